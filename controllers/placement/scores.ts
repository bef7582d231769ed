// Placement scores: pure functions of one feasible host. A policy gives 0..100 (pack: fullest
// first; spread: emptiest first; load-aware: least measured load first); preferred
// (anti-)affinity adds (subtracts) its weight; untolerated PreferNoSchedule taints cost 20 each.

import type { Toleration } from '../../schemas/types.gen';
import { domainOf, tolerates, type CompiledTerm, type HostView } from './filters';
import type { Resources } from './resources';

export type Policy = 'pack' | 'spread' | 'load-aware';
export const POLICIES: readonly Policy[] = ['pack', 'spread', 'load-aware'];

/** Mean fraction of the host's allocatable cpu and memory (and storage, when tracked) in use after placing `req`. */
export function utilizationAfter(req: Resources, allocated: Resources, allocatable: Resources): number {
  let sum = 0;
  let n = 0;
  if (allocatable.cpu > 0 && Number.isFinite(allocatable.cpu)) {
    sum += Math.min(1, (allocated.cpu + req.cpu) / allocatable.cpu);
    n++;
  }
  if (allocatable.memory > 0 && Number.isFinite(allocatable.memory)) {
    sum += Math.min(1, (allocated.memory + req.memory) / allocatable.memory);
    n++;
  }
  if (allocatable.storage > 0 && Number.isFinite(allocatable.storage)) {
    sum += Math.min(1, (allocated.storage + req.storage) / allocatable.storage);
    n++;
  }
  return n === 0 ? 0 : sum / n;
}

export function policyScore(policy: Policy, host: HostView, req: Resources, allocated: Resources): number {
  const u = utilizationAfter(req, allocated, host.allocatable!);
  switch (policy) {
    case 'pack':
      return 100 * u;
    case 'load-aware':
      return host.load === undefined ? 100 * (1 - u) : 100 * (1 - Math.min(1, Math.max(0, host.load)));
    case 'spread':
    default:
      return 100 * (1 - u);
  }
}

export function preferenceScore(terms: readonly CompiledTerm[], tolerations: readonly Toleration[], host: HostView): number {
  let s = 0;
  for (const t of terms) {
    if (t.required) continue;
    const d = domainOf(host, t.topologyKey);
    if (d !== undefined && t.domains.has(d)) s += t.anti ? -t.weight : t.weight;
  }
  for (const taint of host.taints) {
    if (taint.effect === 'PreferNoSchedule' && !tolerates(tolerations, taint)) s -= 20;
  }
  return s;
}
