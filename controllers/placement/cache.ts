// The scheduler's view of the cluster, kept current by informers (Hosts, HostAllocations, VMs)
// and by this replica's own successful claims ("assumed" until the feed brings them back, so
// back-to-back decisions do not stack VMs onto a host the cache still thinks is empty).
// Implements the ClusterSnapshot the pure decide() reads.

import { compareRv, type StoredObject } from '../../store';
import type { Host, Taint } from '../../schemas/types.gen';
import type { CachedObject, Informer } from '../runtime';
import { claimsOf, totalOf, type Claim } from './allocation-record';
import type { ClusterSnapshot } from './decide';
import type { HostView, PlacedVm } from './filters';
import { add, hostAllocatable, ZERO, type Resources } from './resources';
import { PlacedIndex } from './placed-index';
import type { LabelSelector } from '../../store/selectors';

export function conditionStatus(obj: Pick<StoredObject, 'status'> | undefined, type: string): string | undefined {
  const conds = (obj?.status?.conditions ?? []) as { type: string; status: string }[];
  return conds.find((c) => c.type === type)?.status;
}

export function toHostView(obj: CachedObject): HostView {
  const h = obj as unknown as Host;
  let allocatable: Resources | undefined;
  try {
    allocatable = hostAllocatable(h);
  } catch {
    allocatable = undefined; // a malformed quantity: treat as not reported
  }
  return {
    name: obj.metadata.name,
    labels: (h.metadata.labels ?? {}) as Record<string, string>,
    taints: (h.spec?.taints ?? []) as Taint[],
    // a host being drained is cordoned too, even if only the annotation was set
    unschedulable: h.spec?.unschedulable === true || h.metadata.annotations?.['stratuslab.eu/drain'] === 'true',
    ready: conditionStatus(obj, 'Ready') === 'True',
    allocatable,
  };
}

interface Effective {
  obj: StoredObject;
  claims: Record<string, Claim>;
  total: Resources;
}

export class PlacementCache implements ClusterSnapshot {
  private readonly views = new Map<string, HostView>();
  /** measured load per host (HostLoadSampler), 0..1 */
  private loads = new Map<string, number>();
  private list: HostView[] | null = null;
  /** "key=value" → hosts with that label, in list order; rebuilt lazily after membership or label changes */
  private byLabel: Map<string, HostView[]> | null = null;
  private readonly effective = new Map<string, Effective>();
  /** VMs bound (status.host), from the VM informer */
  private readonly bound = new PlacedIndex();
  /** VMs claimed, from the allocation records */
  private readonly claimed = new PlacedIndex();
  /** this replica's claims in flight (decided, not yet written): host → VM uid → request */
  private readonly reserved = new Map<string, Map<string, Resources>>();

  constructor(private readonly inf: { hosts: Informer; allocations: Informer; vms: Informer }) {
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

  hostsLabeled(key: string, value: string): readonly HostView[] {
    if (!this.byLabel) {
      const idx = new Map<string, HostView[]>();
      for (const h of this.hosts) {
        for (const [k, v] of Object.entries(h.labels)) {
          const id = `${k}=${v}`;
          const l = idx.get(id);
          if (l) l.push(h);
          else idx.set(id, [h]);
        }
      }
      this.byLabel = idx;
    }
    return this.byLabel.get(`${key}=${value}`) ?? NO_HOSTS;
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
   * Counts a claim this replica is about to write, so its other workers see the host as fuller
   * until the claim lands or fails (call unreserve either way).
   */
  reserve(host: string, uid: string, req: Resources): void {
    let r = this.reserved.get(host);
    if (!r) this.reserved.set(host, (r = new Map()));
    r.set(uid, req);
  }

  unreserve(host: string, uid: string): void {
    const r = this.reserved.get(host);
    r?.delete(uid);
    if (r && r.size === 0) this.reserved.delete(host);
  }

  // ---- allocation records ----

  /** The newest allocation record known for a host (informer or this replica's own write). */
  record(host: string): StoredObject | undefined {
    return this.effective.get(host)?.obj;
  }

  /** Records this replica's successful write of an allocation record. */
  assume(obj: StoredObject): void {
    this.offer(obj);
  }

  private offer(obj: StoredObject): void {
    const host = obj.metadata.name;
    const cur = this.effective.get(host);
    const rv = obj.metadata.resourceVersion ?? '';
    if (cur && cur.obj.metadata.resourceVersion && compareRv(rv, cur.obj.metadata.resourceVersion) <= 0) return;
    this.setEffective(host, obj);
  }

  private setEffective(host: string, obj: StoredObject | undefined): void {
    const old = this.effective.get(host)?.claims ?? {};
    const next = obj ? claimsOf(obj) : {};
    for (const [uid, c] of Object.entries(old)) if (!next[uid]) this.claimed.delete(nsOf(c.vm), c.vm);
    for (const [uid, c] of Object.entries(next)) if (!old[uid]) this.claimed.set({ key: c.vm, namespace: nsOf(c.vm), labels: c.labels ?? {}, host });
    if (obj) this.effective.set(host, { obj, claims: next, total: totalOf(next) });
    else this.effective.delete(host);
  }

  // ---- hosts and VMs ----

  /**
   * A host's view changed. Most changes (heartbeats, capacity, taints, cordon) update the view in
   * place, so the sorted host list and the label index stay valid: with thousands of hosts
   * reporting every few seconds, rebuilding them per change would cost more than the decisions.
   */
  private setHost(name: string, o: CachedObject): void {
    const next: HostView = { ...toHostView(o), load: this.loads.get(name) };
    const cur = this.views.get(name);
    if (cur && sameLabels(cur.labels, next.labels)) {
      Object.assign(cur, next);
      return;
    }
    this.views.set(name, next);
    this.invalidateHostLists();
  }

  private invalidateHostLists(): void {
    this.list = null;
    this.byLabel = null;
  }

  /** Replaces the measured loads (hosts missing from `loads` have none). */
  setLoads(loads: Map<string, number>): void {
    this.loads = loads;
    for (const [name, v] of this.views) if (v.load !== loads.get(name)) v.load = loads.get(name);
  }

  private setBound(old: CachedObject | undefined, o: CachedObject | undefined): void {
    if (old?.status?.host) this.bound.delete(old.metadata.namespace ?? '', vmKeyOf(old));
    if (o?.status?.host) {
      this.bound.set({ key: vmKeyOf(o), namespace: o.metadata.namespace ?? '', labels: (o.metadata.labels ?? {}) as Record<string, string>, host: String(o.status.host) });
    }
  }
}

const NO_HOSTS: readonly HostView[] = [];

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
