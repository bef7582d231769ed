// The per-host allocation record (internal kind HostAllocation, cluster-scoped, named after the
// host): one claim per VM placed there, keyed by the VM's uid. Schedulers add a claim by
// compare-and-set before binding; a failed bind, a deleted VM or a host failure removes it; the
// audit repairs what a crash left behind. A separate object from the Host so that placement
// (Paxos on this partition) never contends with the agent's heartbeats (Paxos on the Host's).

import type { StoredObject } from '../../store';
import type { HeldTerm } from './filters';
import { add, RESOURCE_NAMES, ZERO, type Resources } from './resources';

export const ALLOCATION_KIND = 'HostAllocation';
export const ALLOCATION_API_VERSION = 'stratuslab.eu/v1alpha1';

export interface Claim {
  /** the VM's namespace/name */
  vm: string;
  cpu: number;
  memory: number;
  storage: number;
  /** the VM's labels, so host-level (anti-)affinity is checked against in-flight claims too */
  labels?: Record<string, string>;
  /**
   * The VM's required anti-affinity terms, so the symmetric rule (other VMs must keep out of
   * its domain) holds against in-flight claims too: exactly on this host, from the cache elsewhere
   */
  antiAffinity?: HeldTerm[];
  /** names of the TopologyClaim records (in the VM's project) the VM holds; released with this claim */
  topologyClaims?: string[];
  /** who claimed: "<scheduler identity>/<attempt id>", or "audit" */
  by: string;
  /** when, in ms since the epoch (the claimant's clock) */
  at: number;
}

export interface AllocationSpec {
  host: string;
  claims: Record<string, Claim>;
}

export type AllocationObject = StoredObject & { spec: AllocationSpec };

export function claimsOf(obj: StoredObject | undefined): Record<string, Claim> {
  return ((obj?.spec as AllocationSpec | undefined)?.claims ?? {}) as Record<string, Claim>;
}

export function totalOf(claims: Record<string, Claim>): Resources {
  let t: Resources = { ...ZERO };
  for (const c of Object.values(claims)) t = add(t, { cpu: c.cpu, memory: c.memory, storage: c.storage });
  return t;
}

/** True when a change of a host's record freed capacity (a claim released, or shrunk by a resize). */
export function capacityFreed(before: StoredObject, after: StoredObject): boolean {
  const a = totalOf(claimsOf(before));
  const b = totalOf(claimsOf(after));
  return RESOURCE_NAMES.some((r) => b[r] < a[r]);
}

export function newAllocation(host: string, claims: Record<string, Claim>): AllocationObject {
  return {
    apiVersion: ALLOCATION_API_VERSION, kind: ALLOCATION_KIND, metadata: { name: host },
    spec: { host, claims },
  };
}
