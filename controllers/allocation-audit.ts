// The allocation audit: every period, recomputes each host's allocation record from the VMs bound
// to it and repairs what crashes left behind — a claim whose VM is not bound there (older than a
// grace period, confirmed by a fresh read) is removed; a bound VM without a claim gets one (sized
// from its spec). It never changes the size of an existing claim: resizing a bound VM is the
// resize controller's, which grows a claim only when the host has room (vm-resize.ts). Topology
// claims are audited the same way (topology-claim-audit.ts). It also publishes the totals in
// Host status.allocated for people (`kubectl get hosts`).

import type { HostAllocationObject, HostObject, VirtualMachineObject } from '../store';
import { formatBytes, formatCpu } from '../schemas/quantity';
import { jsonEqual } from '../kube/equal';
import { HOST_INDEX } from './host-health';
import { ALLOCATION_KIND, claimsOf, newAllocation, totalOf, type Claim, type Claims } from './placement/allocation-record';
import { requiredAntiAffinity } from './placement/filters';
import { vmRequest } from '../kube/resources';
import { Periodic, systemClock, type Clock } from '../runtime';
import { auditTopologyClaims } from './topology-claim-audit';
import type { PlacementDeps } from './placement-deps';
import { ErrorCode, hasCode } from '../errors';

export interface AllocationAuditOptions extends PlacementDeps {
  /** random source of the period's jitter; default Math.random */
  random?: () => number;
  /** default 60 000 ms (jittered ±20 %) */
  periodMs?: number;
  /** a claim younger than this is an in-flight placement, never a leak; default 30 000 ms */
  claimGraceMs?: number;
  /** publish totals in Host status.allocated; default true */
  publishAllocated?: boolean;
}

export interface AuditReport {
  hosts: number;
  leaked: number;
  missing: number;
  /** topology claims deleted / created / group members found sharing a domain */
  topology: { leaked: number; missing: number; conflicts: number };
}

export class AllocationAudit {
  readonly name = 'allocation-audit';
  private readonly clock: Clock;

  private readonly periodic: Periodic;

  constructor(private readonly o: AllocationAuditOptions) {
    this.clock = o.clock ?? systemClock;
    this.periodic = new Periodic({
      name: this.name, periodMs: o.periodMs ?? 60_000, jitter: 0.2, clock: this.clock, random: o.random, logger: o.logger,
      errorMessage: 'allocation audit failed; next period retries',
      run: async () => {
        const r = await this.runOnce();
        if (r.leaked || r.missing || r.topology.leaked || r.topology.missing) this.o.logger.info({ ...r }, 'allocation audit repaired records');
      },
    });
  }

  /** Once the informers synced, audits every period (jittered ±20 %). */
  async start(signal: AbortSignal): Promise<void> {
    const { hosts, allocations, vms } = this.o.informers;
    for (const i of [hosts, allocations, vms]) if (!(await i.waitForSync(signal))) return;
    await this.periodic.start(signal);
  }

  /** Audits every host once. */
  async runOnce(): Promise<AuditReport> {
    const names = new Set([...this.o.informers.hosts.keys(), ...this.o.informers.allocations.keys()]);
    const report: AuditReport = { hosts: names.size, leaked: 0, missing: 0, topology: { leaked: 0, missing: 0, conflicts: 0 } };
    const list = [...names];
    const worker = async () => {
      for (let n = list.pop(); n !== undefined; n = list.pop()) {
        const r = await this.auditHost(n);
        report.leaked += r.leaked;
        report.missing += r.missing;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    report.topology = await auditTopologyClaims(this.o, this.clock.now(), this.o.claimGraceMs ?? 30_000);
    const { leaked, missing } = report.topology;
    if (leaked) this.o.metrics.repairs.inc({ type: 'topology-leaked' }, leaked);
    if (missing) this.o.metrics.repairs.inc({ type: 'topology-missing' }, missing);
    return report;
  }

  async auditHost(host: string): Promise<{ leaked: number; missing: number }> {
    const { store, metrics } = this.o;
    const now = this.clock.now();
    const grace = this.o.claimGraceMs ?? 30_000;
    const bound = new Map(this.o.informers.vms.byIndex(HOST_INDEX, host).map((v) => [v.metadata.uid!, v]));
    const record = this.o.cache?.record(host) ?? this.o.informers.allocations.get(host);
    const claims = claimsOf(record);
    // A host that is gone gets no new claims: host removal takes its VMs off and deletes its record.
    const known = this.o.informers.hosts.get(host) !== undefined;
    const suspectsMissing = known ? [...bound.keys()].filter((uid) => !claims[uid]) : [];
    const suspectsLeaked = Object.entries(claims).filter(([uid, c]) => !bound.has(uid) && now - c.at > grace);

    // Confirm with fresh reads: the cache may lag behind a bind or an unbind.
    const add: Claims = {};
    for (const uid of suspectsMissing) {
      const v = bound.get(uid)!;
      const fresh = await store.get<VirtualMachineObject>({ kind: 'VirtualMachine', namespace: v.metadata.namespace ?? '', name: v.metadata.name });
      if (fresh?.metadata.uid !== uid || fresh.status?.host !== host) continue;
      let req;
      try {
        req = vmRequest(fresh);
      } catch {
        continue;
      }
      const held = requiredAntiAffinity(fresh.spec.placement);
      add[uid] = { vm: `${v.metadata.namespace}/${v.metadata.name}`, ...req, labels: fresh.metadata.labels, ...(held.length > 0 ? { antiAffinity: held } : {}), by: 'audit', at: now };
    }
    const remove = new Map<string, Claim>();
    for (const [uid, c] of suspectsLeaked) {
      const i = c.vm.indexOf('/');
      const fresh = await store.get<VirtualMachineObject>({ kind: 'VirtualMachine', namespace: c.vm.slice(0, i), name: c.vm.slice(i + 1) }, { serial: true });
      if (fresh?.metadata.uid === uid && fresh.status?.host === host) continue;
      remove.set(uid, c);
    }

    let written: HostAllocationObject | undefined;
    let leaked = 0;
    let missing = 0;
    if (Object.keys(add).length > 0 || remove.size > 0) {
      const mutate = (cur: HostAllocationObject) => {
        leaked = 0;
        missing = 0;
        const next = { ...claimsOf(cur) };
        for (const [uid, c] of remove) {
          if (next[uid] && next[uid].by === c.by && next[uid].at === c.at) {
            delete next[uid];
            leaked++;
          }
        }
        for (const [uid, c] of Object.entries(add)) {
          if (!next[uid]) {
            next[uid] = c;
            missing++;
          }
        }
        if (leaked === 0 && missing === 0) return undefined;
        cur.spec.claims = next;
        return cur;
      };
      const key = { kind: ALLOCATION_KIND, namespace: '', name: host };
      try {
        written = await store.guaranteedUpdate<HostAllocationObject>(key, mutate);
      } catch (err) {
        if (!hasCode(err, ErrorCode.NotFound) || Object.keys(add).length === 0) throw err;
        written = await store.create<HostAllocationObject>(newAllocation(host, add));
        missing = Object.keys(add).length;
      }
      if (written) this.o.cache?.assume(written);
      if (leaked) metrics.repairs.inc({ type: 'leaked' }, leaked);
      if (missing) metrics.repairs.inc({ type: 'missing' }, missing);
    }
    if (this.o.publishAllocated ?? true) await this.publish(host, claimsOf(written ?? record));
    return { leaked, missing };
  }

  private async publish(host: string, claims: Readonly<Claims>): Promise<void> {
    const h = this.o.informers.hosts.get(host);
    if (!h) return;
    const t = totalOf(claims);
    const allocated: Record<string, string> = { cpu: formatCpu(t.cpu), memory: formatBytes(t.memory) };
    if (t.storage > 0) allocated.storage = formatBytes(t.storage);
    if (jsonEqual(h.status?.allocated, allocated)) return;
    await this.o.store.guaranteedUpdate<HostObject>({ kind: 'Host', namespace: '', name: host }, (cur) => {
      if (jsonEqual(cur.status?.allocated, allocated)) return undefined;
      (cur.status ??= {}).allocated = allocated;
      return cur;
    }, { status: true }).catch((err) => {
      if (!hasCode(err, ErrorCode.NotFound)) throw err;
    });
  }
}
