// The per-host allocation record (internal kind HostAllocation, cluster-scoped, named after the
// host): one claim per VM placed there, keyed by the VM's uid. Schedulers add a claim by
// compare-and-set before binding; a failed bind, a deleted VM or a host failure removes it; the
// audit repairs what a crash left behind. A separate object from the Host so that placement
// (Paxos on this partition) never contends with the agent's heartbeats (Paxos on the Host's).

import type { HostAllocationObject } from '../../store';
import type { AllocationClaim, HostAllocationSpec } from '../../schemas/types.gen';
import { add, RESOURCE_NAMES, ZERO, type Resources } from './resources';

export const ALLOCATION_KIND = 'HostAllocation';
export const ALLOCATION_API_VERSION = 'stratuslab.eu/v1alpha1';

/** One VM's claim on the host (schemas/hostallocation.json). */
export type Claim = AllocationClaim;

/** The claims of a record, by VM uid. */
export type Claims = HostAllocationSpec['claims'];

export type AllocationSpec = HostAllocationSpec;

export type AllocationObject = HostAllocationObject;

export function claimsOf(obj: Readonly<HostAllocationObject> | undefined): Readonly<Claims> {
  return obj?.spec.claims ?? {};
}

export function totalOf(claims: Readonly<Claims>): Resources {
  let t: Resources = { ...ZERO };
  for (const c of Object.values(claims)) t = add(t, { cpu: c.cpu, memory: c.memory, storage: c.storage });
  return t;
}

/** True when a change of a host's record freed capacity (a claim released, or shrunk by a resize). */
export function capacityFreed(before: Readonly<HostAllocationObject>, after: Readonly<HostAllocationObject>): boolean {
  const a = totalOf(claimsOf(before));
  const b = totalOf(claimsOf(after));
  return RESOURCE_NAMES.some((r) => b[r] < a[r]);
}

export function newAllocation(host: string, claims: Claims): AllocationObject {
  return {
    apiVersion: ALLOCATION_API_VERSION, kind: ALLOCATION_KIND, metadata: { name: host },
    spec: { host, claims },
  };
}
