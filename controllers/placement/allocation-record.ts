// The per-host allocation record (internal kind HostAllocation, cluster-scoped, named after the
// host): one claim per VM placed there, keyed by the VM's uid. Schedulers add a claim by
// compare-and-set before binding; a failed bind, a deleted VM or a host failure removes it; the
// audit repairs what a crash left behind. A separate object from the Host so that placement
// (Paxos on this partition) never contends with the agent's heartbeats (Paxos on the Host's).

import type { StoredObject } from '../../store';
import { add, ZERO, type Resources } from './resources';

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

export function newAllocation(host: string, claims: Record<string, Claim>): AllocationObject {
  return {
    apiVersion: ALLOCATION_API_VERSION, kind: ALLOCATION_KIND, metadata: { name: host },
    spec: { host, claims },
  };
}
