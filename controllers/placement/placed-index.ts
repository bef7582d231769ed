// VMs placed on hosts, indexed by project and label, so an affinity rule reads only the VMs its
// selector can match (cost grows with the group, not with the cluster).

import { matchesLabels, type LabelSelector } from '../../store/selectors';
import type { PlacedVm } from './filters';

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
