// VMs placed on hosts, indexed by project and label, so an affinity rule reads only the VMs its
// selector can match (cost grows with the group, not with the cluster); and the required
// anti-affinity terms placed VMs hold, by project and term, for the symmetric rule.

import { matchesLabels, type LabelSelector } from '../../kube/selectors';
import { compileSelector, termIdentity, type HeldTerm, type HeldTermHolders, type PlacedVm } from './filters';

interface NsIndex {
  all: Map<string, PlacedVm>;
  /** "key=value" → VM keys */
  byLabel: Map<string, Set<string>>;
}

export class PlacedIndex {
  private readonly ns = new Map<string, NsIndex>();

  set(p: PlacedVm): void {
    this.delete(p.namespace, p.key);
    let idx = this.ns.get(p.namespace);
    if (!idx) this.ns.set(p.namespace, (idx = { all: new Map(), byLabel: new Map() }));
    idx.all.set(p.key, p);
    for (const [k, v] of Object.entries(p.labels)) {
      const lk = `${k}=${v}`;
      let s = idx.byLabel.get(lk);
      if (!s) idx.byLabel.set(lk, (s = new Set()));
      s.add(p.key);
    }
  }

  delete(namespace: string, key: string): void {
    const idx = this.ns.get(namespace);
    const p = idx?.all.get(key);
    if (!idx || !p) return;
    idx.all.delete(key);
    for (const [k, v] of Object.entries(p.labels)) {
      const lk = `${k}=${v}`;
      const s = idx.byLabel.get(lk);
      s?.delete(key);
      if (s && s.size === 0) idx.byLabel.delete(lk);
    }
    if (idx.all.size === 0) this.ns.delete(namespace);
  }

  has(namespace: string, key: string): boolean {
    return this.ns.get(namespace)?.all.has(key) ?? false;
  }

  /** VMs of `namespace` whose labels match `selector`. */
  *matching(namespace: string, selector: LabelSelector): Iterable<PlacedVm> {
    const idx = this.ns.get(namespace);
    if (!idx) return;
    // Narrow by the smallest posting list of an equality requirement, when there is one.
    let keys: Iterable<string> | undefined;
    let best = Infinity;
    for (const r of selector.requirements) {
      if (r.op !== 'in' || r.values.length !== 1) continue;
      const s = idx.byLabel.get(`${r.key}=${r.values[0]}`);
      const n = s?.size ?? 0;
      if (n < best) {
        best = n;
        keys = s ?? [];
      }
    }
    if (keys) {
      for (const k of keys) {
        const p = idx.all.get(k)!;
        if (matchesLabels(selector, p.labels)) yield p;
      }
      return;
    }
    for (const p of idx.all.values()) if (matchesLabels(selector, p.labels)) yield p;
  }
}

interface MutableHolders extends HeldTermHolders {
  holders: Map<string, Set<string>>;
}

/**
 * Required anti-affinity terms of placed VMs, by project and term identity (a group of VMs
 * sharing one rule is one entry), with the hosts of their holders: what the symmetric rule
 * reads. A decision checks each distinct term of its project against its labels once, instead
 * of looking at every placed VM.
 */
export class HeldTermIndex {
  private readonly ns = new Map<string, Map<string, MutableHolders>>();
  /** VM key → where it is filed, to remove it */
  private readonly filed = new Map<string, { namespace: string; host: string; ids: string[] }>();

  /** Files (or re-files) the terms VM `key` holds on `host`; no terms removes it. */
  set(vm: { key: string; namespace: string; host: string }, terms: readonly HeldTerm[]): void {
    this.delete(vm.key);
    if (terms.length === 0) return;
    let byId = this.ns.get(vm.namespace);
    if (!byId) this.ns.set(vm.namespace, (byId = new Map()));
    const ids: string[] = [];
    for (const t of terms) {
      const selector = compileSelector(t.labelSelector);
      const id = termIdentity(selector, t.topologyKey);
      if (ids.includes(id)) continue;
      ids.push(id);
      let e = byId.get(id);
      if (!e) byId.set(id, (e = { id, selector, topologyKey: t.topologyKey, holders: new Map() }));
      let keys = e.holders.get(vm.host);
      if (!keys) e.holders.set(vm.host, (keys = new Set()));
      keys.add(vm.key);
    }
    this.filed.set(vm.key, { namespace: vm.namespace, host: vm.host, ids });
  }

  delete(key: string): void {
    const f = this.filed.get(key);
    if (!f) return;
    this.filed.delete(key);
    const byId = this.ns.get(f.namespace)!;
    for (const id of f.ids) {
      const e = byId.get(id)!;
      const keys = e.holders.get(f.host)!;
      keys.delete(key);
      if (keys.size === 0) e.holders.delete(f.host);
      if (e.holders.size === 0) byId.delete(id);
    }
    if (byId.size === 0) this.ns.delete(f.namespace);
  }

  /** The terms of `namespace` whose selector matches `labels`. */
  *selecting(namespace: string, labels: Readonly<Record<string, string>>): Iterable<HeldTermHolders> {
    const byId = this.ns.get(namespace);
    if (!byId) return;
    for (const e of byId.values()) if (matchesLabels(e.selector, labels)) yield e;
  }
}
