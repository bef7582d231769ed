// What a Host may hand out: allocatable = (capacity - reserved) x overcommit, rounded down. One rule,
// used by the agent (which publishes status.allocatable) and by placement (when a host has not).

import { parseQuantity } from '../schemas/quantity';
import type { HostSpec, ResourceList } from '../schemas/types.gen';

/** Overcommit ratios when spec.overcommit does not give one: 4 vCPUs per CPU, no memory or storage overcommit. */
export const DEFAULT_OVERCOMMIT = Object.freeze({ cpu: 4.0, memory: 1.0, storage: 1.0 });

/** An allocatable in numbers: vCPUs, bytes; storage is absent when the capacity has none. */
export interface Allocatable {
  cpu: number;
  memory: number;
  storage?: number;
}

/**
 * Rounds down to whole millicores (perUnit 1000) or whole bytes (perUnit 1), after forgiving float
 * noise of a few ulps: 0.7 x 3 = 2.0999999999999996 vCPUs is 2100m, not 2099m.
 */
function floorTo(x: number, perUnit: number): number {
  const units = x * perUnit;
  return Math.floor(units + Math.abs(units) * 8 * Number.EPSILON + 1e-9) / perUnit;
}

/**
 * What placement may hand out on a host, from what its hardware has (`capacity`, as the agent
 * reports it) and the operator's `spec.reserved` and `spec.overcommit`:
 *
 *   allocatable = max(0, capacity - reserved) x overcommit   (defaults: cpu 4.0, memory 1.0, storage 1.0)
 *
 * rounded DOWN, cpu to whole millicores and memory and storage to whole bytes, so that no host
 * is ever promised a fraction more than it has (rounding up could double-book the last byte).
 * Storage is given only when the capacity has storage. Pure.
 * @throws QuantityError for a malformed quantity
 */
export function allocatableOf(capacity: ResourceList, spec: Pick<HostSpec, 'reserved' | 'overcommit'> | undefined): Allocatable {
  const q = (v: string | number | undefined) => (v === undefined ? 0 : parseQuantity(v));
  const reserved = spec?.reserved ?? {};
  const oc = { ...DEFAULT_OVERCOMMIT, ...(spec?.overcommit ?? {}) };
  const one = (c: string | number | undefined, r: string | number | undefined, ratio: number) => Math.max(0, q(c) - q(r)) * ratio;
  const out: Allocatable = {
    cpu: floorTo(one(capacity.cpu, reserved.cpu, oc.cpu), 1000),
    memory: floorTo(one(capacity.memory, reserved.memory, oc.memory), 1),
  };
  if (capacity.storage !== undefined) out.storage = floorTo(one(capacity.storage, reserved.storage, oc.storage), 1);
  return out;
}
