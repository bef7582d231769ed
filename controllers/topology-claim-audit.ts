// The allocation audit's pass over topology claims (placement/topology-claims.ts): recomputes
// which records the bound VMs need from their rules and their hosts' labels, deletes records
// nobody needs any more (the VM was deleted or moved, or a label changed, and the release was
// lost to a crash), and creates the records bound group members lack. Records younger than the
// grace period belong to placements in flight and are left alone.

import type { Logger } from 'pino';
import type { HostObject, ObjectStore, TopologyClaimObject, VirtualMachineObject } from '../store';
import { toHostView } from './placement/cache';
import type { HostView } from './placement/filters';
import {
  acquireTopologyClaims, groupTerms, releaseIf, TOPOLOGY_CLAIM_KIND, topologyClaimKey, topologyClaimsOn, topologyClaimSpec,
  type TopologyClaimRef, type TopologyClaimSpec,
} from './placement/topology-claims';
import { storeKey, type Informer } from '../runtime';

export interface TopologyAuditDeps {
  store: ObjectStore;
  informers: { hosts: Informer<HostObject>; vms: Informer<VirtualMachineObject> };
  logger: Logger;
}

export interface TopologyAuditReport {
  leaked: number;
  missing: number;
  /** bound group members sharing a domain (the rule was broken, e.g. by relabelling hosts): reported, not repaired */
  conflicts: number;
}

interface Need {
  namespace: string;
  ref: TopologyClaimRef;
  /** VM uid → its key and host */
  owners: Map<string, { vm: string; host: string }>;
}

/** The records a VM bound to `host` needs: one per group rule whose key `host` carries. */
function needsOf(vm: Readonly<Pick<VirtualMachineObject, 'metadata' | 'spec'>>, host: HostView): TopologyClaimRef[] {
  const groups = groupTerms(vm.spec.placement, vm.metadata.labels);
  return groups.length === 0 ? [] : topologyClaimsOn(groups, host);
}

export async function auditTopologyClaims(d: TopologyAuditDeps, now: number, graceMs: number): Promise<TopologyAuditReport> {
  const report: TopologyAuditReport = { leaked: 0, missing: 0, conflicts: 0 };
  const hostView = (name: string) => {
    const h = d.informers.hosts.get(name);
    return h ? toHostView(h) : undefined;
  };
  // What the bound VMs need (VMs being deleted still run until their agent is done).
  const needs = new Map<string, Need>();
  for (const vm of d.informers.vms.list()) {
    const host = vm.status?.host;
    const view = host ? hostView(host) : undefined;
    if (!host || !view) continue;
    const namespace = vm.metadata.namespace ?? '';
    for (const ref of needsOf(vm, view)) {
      const k = `${namespace}/${ref.name}`;
      let n = needs.get(k);
      if (!n) needs.set(k, (n = { namespace, ref, owners: new Map() }));
      n.owners.set(vm.metadata.uid!, { vm: `${namespace}/${vm.metadata.name}`, host });
    }
  }

  const existing = new Map<string, TopologyClaimObject>();
  let cont: string | undefined;
  do {
    const page = await d.store.list<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND, undefined, { limit: 500, continue: cont });
    for (const o of page.items) existing.set(`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
    cont = page.continue;
  } while (cont);

  for (const [k, rec] of existing) {
    const s = topologyClaimSpec(rec);
    if (needs.get(k)?.owners.has(s.uid) || now - s.at <= graceMs) continue;
    if (await stillNeeded(d, rec, s, hostView)) continue;
    const same = (x: TopologyClaimSpec) => x.uid === s.uid && x.by === s.by && x.at === s.at;
    if (await releaseIf(d.store, topologyClaimKey(rec.metadata.namespace ?? '', rec.metadata.name), same)) report.leaked++;
  }

  for (const [k, n] of needs) {
    if (n.owners.size > 1) {
      report.conflicts += n.owners.size - 1;
      d.logger.warn({ record: k, vms: [...n.owners.values()].map((o) => o.vm), topologyKey: n.ref.topologyKey, value: n.ref.value },
        'VMs of one anti-affinity group share a topology domain');
    }
    if (existing.has(k)) continue;
    const [uid, owner] = [...n.owners][0];
    const fresh = await d.store.get<VirtualMachineObject>(storeKey('VirtualMachine', owner.vm));
    if (fresh?.metadata.uid !== uid || fresh.status?.host !== owner.host) continue; // the cache lagged
    const out = await acquireTopologyClaims(d.store, { namespace: n.namespace, refs: [n.ref], owner: { uid, ...owner, by: 'audit', at: now }, now, staleMs: graceMs });
    if (out.ok) report.missing++;
    else if (out.why === 'occupied') report.conflicts++;
  }
  return report;
}

/** Confirms with fresh reads (the cache may lag a bind) that a record's owner is bound in its domain and needs it. */
async function stillNeeded(d: TopologyAuditDeps, rec: TopologyClaimObject, s: TopologyClaimSpec, hostView: (name: string) => HostView | undefined): Promise<boolean> {
  const vm = await d.store.get<VirtualMachineObject>(storeKey('VirtualMachine', s.vm), { serial: true });
  const host = vm?.status?.host;
  if (!vm || vm.metadata.uid !== s.uid || !host) return false;
  const view = hostView(host);
  return view !== undefined && needsOf(vm, view).some((r) => r.name === rec.metadata.name);
}
