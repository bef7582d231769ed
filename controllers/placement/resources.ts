// Resource arithmetic of placement: sums, differences and fit of Resources. What a VM requests
// (vmRequest) and what a Host may hand out (allocatableOf) are rules of kube/, shared with quota and the agent.

import { parseQuantity } from '../../schemas/quantity';
import type { Host } from '../../schemas/types.gen';
import { allocatableOf } from '../../kube/capacity';
import { RESOURCE_NAMES, type ResourceName, type Resources } from '../../kube/resources';

export { RESOURCE_NAMES, ZERO, type ResourceName, type Resources } from '../../kube/resources';

/**
 * What placement may hand out on a host, or undefined when its agent has reported no capacity:
 * the status.allocatable its agent published when it describes the current spec (observedGeneration
 * is the generation, so reserved and overcommit have not changed since), else allocatableOf() of
 * the reported capacity, the same rule the agent applies. Storage is Infinity when not tracked.
 * @throws QuantityError for a malformed quantity
 */
export function hostAllocatable(host: Pick<Host, 'spec' | 'status'> & { metadata?: { generation?: number } }): Resources | undefined {
  const cap = host.status?.capacity;
  if (!cap || cap.cpu === undefined || cap.memory === undefined) return undefined;
  const published = host.status?.allocatable;
  const current = host.status?.observedGeneration !== undefined && host.status.observedGeneration === (host.metadata?.generation ?? 0);
  if (current && published?.cpu !== undefined && published.memory !== undefined) {
    return {
      cpu: parseQuantity(published.cpu),
      memory: parseQuantity(published.memory),
      storage: published.storage === undefined ? Infinity : parseQuantity(published.storage),
    };
  }
  const a = allocatableOf(cap, host.spec);
  return { cpu: a.cpu, memory: a.memory, storage: a.storage ?? Infinity };
}

export function add(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu + b.cpu, memory: a.memory + b.memory, storage: a.storage + b.storage };
}

export function sub(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu - b.cpu, memory: a.memory - b.memory, storage: a.storage - b.storage };
}

export function sameSize(a: Resources, b: Resources): boolean {
  return RESOURCE_NAMES.every((r) => a[r] === b[r]);
}

/** Tolerance for float noise when comparing fractional vCPUs. */
export const EPS = 1e-9;

/** The first resource `req` does not fit in, given what is already allocated, or undefined. */
export function firstShortage(req: Resources, allocated: Resources, allocatable: Resources): ResourceName | undefined {
  for (const r of RESOURCE_NAMES) {
    if (req[r] > 0 && allocated[r] + req[r] > allocatable[r] + EPS) return r;
  }
  return undefined;
}
