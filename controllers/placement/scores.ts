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
  return utilization(req.cpu + allocated.cpu, allocatable.cpu, req.memory + allocated.memory, allocatable.memory, req.storage + allocated.storage, allocatable.storage);
}

/** utilizationAfter() on plain numbers: used and allocatable cpu, memory, storage. */
export function utilization(cpu: number, cpuOf: number, memory: number, memoryOf: number, storage: number, storageOf: number): number {
  let sum = 0;
  let n = 0;
  if (cpuOf > 0 && Number.isFinite(cpuOf)) {
    sum += Math.min(1, cpu / cpuOf);
    n++;
  }
  if (memoryOf > 0 && Number.isFinite(memoryOf)) {
    sum += Math.min(1, memory / memoryOf);
    n++;
  }
  if (storageOf > 0 && Number.isFinite(storageOf)) {
    sum += Math.min(1, storage / storageOf);
    n++;
  }
  return n === 0 ? 0 : sum / n;
}

export function policyScore(policy: Policy, host: HostView, req: Resources, allocated: Resources): number {
  return scoreOf(policy, utilizationAfter(req, allocated, host.allocatable!), host.load);
}

/** A policy's score from the host's utilization after placing the VM, and its measured load. */
export function scoreOf(policy: Policy, u: number, load: number | undefined): number {
  switch (policy) {
    case 'pack':
      return 100 * u;
    case 'load-aware':
      return load === undefined ? 100 * (1 - u) : 100 * (1 - Math.min(1, Math.max(0, load)));
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
