// The scheduler's view of the cluster, kept current by informers (Hosts, HostAllocations, VMs)
// and by this replica's own successful claims ("assumed" until the feed brings them back, so
// back-to-back decisions do not stack VMs onto a host the cache still thinks is empty).
// Implements the ClusterSnapshot the pure decide() reads.

import { compareRv, type HostAllocationObject, type HostObject, type VirtualMachineObject } from '../../store';
import { hostSharedPools } from '../../kube/disks';
import { getCondition } from '../../kube/conditions';
import type { CachedObject, Informer } from '../../runtime';
import { claimsOf, totalOf, type Claims } from './allocation-record';
import type { ClusterSnapshot } from './decide';
import {
  compileSymmetricTerms, requiredAntiAffinity, type CompiledTerm, type HeldTermSource, type HostView, type PlacedVm,
} from './filters';
import { add, hostAllocatable, ZERO, type Resources } from './resources';
import { HeldTermIndex, PlacedIndex } from './placed-index';
import { PackedHosts } from './packed';
import type { LabelSelector } from '../../kube/selectors';

export function conditionStatus(obj: Readonly<Pick<HostObject, 'status'>> | undefined, type: string): string | undefined {
  return getCondition(obj?.status?.conditions, type)?.status;
}

export function toHostView(h: CachedObject<HostObject>): HostView {
  let allocatable: Resources | undefined;
  try {
    allocatable = hostAllocatable(h);
  } catch {
    allocatable = undefined; // a malformed quantity: treat as not reported
  }
  return {
    name: h.metadata.name,
    labels: h.metadata.labels ?? {},
    taints: h.spec?.taints ?? [],
    // a host being drained is cordoned too, even if only the annotation was set
    unschedulable: h.spec?.unschedulable === true || h.metadata.annotations?.['stratuslab.eu/drain'] === 'true',
    ready: conditionStatus(h, 'Ready') === 'True',
    libvirtDown: conditionStatus(h, 'LibvirtConnected') === 'False',
    allocatable,
    sharedPools: hostSharedPools(h.status),
    networking: h.status?.networking
      ? { modes: h.status.networking.modes ?? [], interfaces: h.status.networking.interfaces ?? [] }
      : undefined,
  };
}

interface Effective {
  obj: Readonly<HostAllocationObject>;
  claims: Readonly<Claims>;
  total: Resources;
}

export class PlacementCache implements ClusterSnapshot {
  private readonly views = new Map<string, HostView>();
  /** measured load per host (HostLoadSampler), 0..1 */
  private loads = new Map<string, number>();
  private list: HostView[] | null = null;
  /** the hosts' numbers for decide()'s fast path, and the list they were packed for */
  private readonly packedHosts = new PackedHosts();
  private packedFor: readonly HostView[] | null = null;
  private readonly effective = new Map<string, Effective>();
  /** VMs bound (status.host), from the VM informer */
  private readonly bound = new PlacedIndex();
  /** VMs claimed, from the allocation records */
  private readonly claimed = new PlacedIndex();
  /** required anti-affinity terms of bound VMs (their spec) and of claimed ones (their claim) */
  private readonly boundTerms = new HeldTermIndex();
  private readonly claimedTerms = new HeldTermIndex();
  /** this replica's claims in flight (decided, not yet written): host → VM uid → request */
  private readonly reserved = new Map<string, Map<string, Resources>>();

  constructor(private readonly inf: { hosts: Informer<HostObject>; allocations: Informer<HostAllocationObject>; vms: Informer<VirtualMachineObject> }) {
    inf.hosts.addHandlers({
      onAdd: (k, o) => this.setHost(k, o),
      onUpdate: (k, _old, o) => this.setHost(k, o),
      onDelete: (k) => {
        this.views.delete(k);
        this.invalidateHostLists();
      },
    });
    inf.allocations.addHandlers({
      onAdd: (_k, o) => this.offer(o),
      onUpdate: (_k, _old, o) => this.offer(o),
      onDelete: (k) => this.setEffective(k, undefined),
    });
    inf.vms.addHandlers({
      onAdd: (_k, o) => this.setBound(undefined, o),
      onUpdate: (_k, old, o) => this.setBound(old, o),
      onDelete: (_k, o) => this.setBound(o, undefined),
    });
  }

  // ---- ClusterSnapshot ----

  get hosts(): readonly HostView[] {
    if (!this.list) this.list = [...this.views.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    return this.list;
  }

  host(name: string): HostView | undefined {
    return this.views.get(name);
  }

  packed(): PackedHosts {
    const list = this.hosts;
    if (this.packedFor !== list) {
      this.packedHosts.rebuild(list, (h) => this.allocated(h));
      this.packedFor = list;
    }
    return this.packedHosts;
  }


  allocated(host: string): Resources {
    const e = this.effective.get(host);
    const total = e?.total ?? ZERO;
    const r = this.reserved.get(host);
    if (!r) return total;
    let t = total;
    for (const [uid, req] of r) if (!e?.claims[uid]) t = add(t, req);
    return t;
  }

  *placedMatching(namespace: string, selector: LabelSelector): Iterable<PlacedVm> {
    yield* this.bound.matching(namespace, selector);
    for (const p of this.claimed.matching(namespace, selector)) if (!this.bound.has(namespace, p.key)) yield p;
  }

  /**
   * The required anti-affinity terms of placed VMs of the project that select `vm` (the
   * symmetric rule), compiled as terms of its own: their domains are closed to it. A claimed
   * VM's claim counts until the VM is bound; then its binding does.
   */
  symmetricTerms(vm: { key: string; namespace: string; labels: Readonly<Record<string, string>> }): CompiledTerm[] {
    const held: HeldTermSource[] = [];
    for (const term of this.boundTerms.selecting(vm.namespace, vm.labels)) held.push({ term });
    for (const term of this.claimedTerms.selecting(vm.namespace, vm.labels)) held.push({ term, counts: (k: string) => !this.bound.has(vm.namespace, k) });
    return held.length === 0 ? [] : compileSymmetricTerms(vm, held, (h) => this.views.get(h));
  }

  /**
   * Counts a claim this replica is about to write, so its other workers see the host as fuller
   * until the claim lands or fails (call unreserve either way).
   */
  reserve(host: string, uid: string, req: Resources): void {
    let r = this.reserved.get(host);
    if (!r) this.reserved.set(host, (r = new Map()));
    r.set(uid, req);
    this.packedHosts.setAllocated(host, this.allocated(host));
  }

  unreserve(host: string, uid: string): void {
    const r = this.reserved.get(host);
    r?.delete(uid);
    if (r && r.size === 0) this.reserved.delete(host);
    this.packedHosts.setAllocated(host, this.allocated(host));
  }

  // ---- allocation records ----

  /** The newest allocation record known for a host (informer or this replica's own write). */
  record(host: string): Readonly<HostAllocationObject> | undefined {
    return this.effective.get(host)?.obj;
  }

  /** Records this replica's successful write of an allocation record. */
  assume(obj: HostAllocationObject): void {
    this.offer(obj);
  }

  private offer(obj: Readonly<HostAllocationObject>): void {
    const host = obj.metadata.name;
    const cur = this.effective.get(host);
    const rv = obj.metadata.resourceVersion ?? '';
    if (cur && cur.obj.metadata.resourceVersion && compareRv(rv, cur.obj.metadata.resourceVersion) <= 0) return;
    this.setEffective(host, obj);
  }

  private setEffective(host: string, obj: Readonly<HostAllocationObject> | undefined): void {
    const old = this.effective.get(host)?.claims ?? {};
    const next = obj ? claimsOf(obj) : {};
    for (const [uid, c] of Object.entries(old)) {
      if (next[uid]) continue;
      this.claimed.delete(nsOf(c.vm), c.vm);
      this.claimedTerms.delete(c.vm);
    }
    for (const [uid, c] of Object.entries(next)) {
      if (old[uid]) continue;
      this.claimed.set({ key: c.vm, namespace: nsOf(c.vm), labels: c.labels ?? {}, host });
      this.claimedTerms.set({ key: c.vm, namespace: nsOf(c.vm), host }, c.antiAffinity ?? []);
    }
    if (obj) this.effective.set(host, { obj, claims: next, total: totalOf(next) });
    else this.effective.delete(host);
    this.packedHosts.setAllocated(host, this.allocated(host));
  }

  // ---- hosts and VMs ----

  /**
   * A host's view changed. Most changes (heartbeats, capacity, taints, cordon) update the view in
   * place, so the sorted host list and the label index stay valid: with thousands of hosts
   * reporting every few seconds, rebuilding them per change would cost more than the decisions.
   */
  private setHost(name: string, o: CachedObject<HostObject>): void {
    const next: HostView = { ...toHostView(o), load: this.loads.get(name) };
    const cur = this.views.get(name);
    if (cur && sameLabels(cur.labels, next.labels)) {
      Object.assign(cur, next);
      this.packedHosts.setHost(cur);
      return;
    }
    this.views.set(name, next);
    this.invalidateHostLists();
  }

  private invalidateHostLists(): void {
    this.list = null; // packed() repacks for the new list
  }

  /** Replaces the measured loads (hosts missing from `loads` have none). */
  setLoads(loads: Map<string, number>): void {
    this.loads = loads;
    for (const [name, v] of this.views) {
      if (v.load === loads.get(name)) continue;
      v.load = loads.get(name);
      this.packedHosts.setHost(v);
    }
  }

  private setBound(old: CachedObject<VirtualMachineObject> | undefined, o: CachedObject<VirtualMachineObject> | undefined): void {
    if (old?.status?.host) {
      this.bound.delete(old.metadata.namespace ?? '', vmKeyOf(old));
      this.boundTerms.delete(vmKeyOf(old));
    }
    if (o?.status?.host) {
      const p = { key: vmKeyOf(o), namespace: o.metadata.namespace ?? '', host: o.status.host };
      this.bound.set({ ...p, labels: o.metadata.labels ?? {} });
      this.boundTerms.set(p, requiredAntiAffinity(o.spec.placement));
    }
  }
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function nsOf(vmKey: string): string {
  const i = vmKey.indexOf('/');
  return i < 0 ? '' : vmKey.slice(0, i);
}

function vmKeyOf(o: CachedObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
