// What a VirtualMachine asks of a host, one rule for placement, quota admission and the agent:
// spec.cpu vCPUs, spec.memory bytes, and the bytes of the disks created for it; quantities round up to whole bytes.

import { MAX_QUANTITY, parseQuantity, type QuantityError } from '../schemas/quantity';
import type { Disk, VirtualMachineSpec } from '../schemas/types.gen';

/** Amounts of the three resources: vCPUs, and bytes of memory and of storage. */
export interface Resources {
  /** vCPUs (may be fractional in an allocatable: 11.5 = 11500m) */
  cpu: number;
  /** bytes */
  memory: number;
  /** bytes; Infinity in an allocatable means "not tracked on this host" */
  storage: number;
}

export const RESOURCE_NAMES = ['cpu', 'memory', 'storage'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];
export const ZERO: Readonly<Resources> = Object.freeze({ cpu: 0, memory: 0, storage: 0 });

/**
 * A memory or storage quantity in bytes, rounded UP to a whole byte ("1.5" → 2, "2Gi" → 2147483648):
 * the one rounding rule of requests, so placement, quota and the agent count the same bytes.
 * @throws QuantityError for a malformed or negative quantity
 */
export function quantityBytes(q: string | number): number {
  return Math.ceil(parseQuantity(q));
}

/**
 * A quantity in bytes as quota counts a stored object, never failing and never NaN or Infinity:
 * a malformed one counts 0, one above the maximum (stored before validation refused it, e.g.
 * "1e1000") counts as the maximum, 8Pi, as Kubernetes caps an oversized Quantity.
 */
export function countedBytes(q: unknown): number {
  if (typeof q !== 'string' && typeof q !== 'number') return 0;
  try {
    return quantityBytes(q);
  } catch (err) {
    return (err as Partial<QuantityError>).tooLarge === true ? MAX_QUANTITY : 0;
  }
}

export interface RequestOptions {
  /**
   * What a malformed quantity does: 'throw' (default) throws QuantityError; 'zero' counts it as
   * countedBytes() does, 0 (or the maximum when it is too large): quota accounting, which must not
   * fail on an object stored before a schema change.
   */
  invalid?: 'throw' | 'zero';
}

/** The spec fields a request is made of (a typed VirtualMachineSpec, or a spec read as JSON). */
export type RequestSpec = Partial<Pick<VirtualMachineSpec, 'cpu' | 'memory' | 'disks'>>;

/**
 * Whether a disk is created for the VM on its host (and so counts in its storage): a blank disk
 * or an image clone. A disk naming a Volume uses the Volume's storage, counted by the Volume.
 */
export function isVmOwnedDisk(d: Pick<Disk, 'volume'>): boolean {
  return !d.volume;
}

/**
 * What a VM requests: its vCPUs (spec.cpu; 0 when absent or not a non-negative number), its
 * memory (spec.memory) and the sum of the sizes of the disks created for it (an image clone
 * without a size counts 0 until it has one). Memory and storage round up to whole bytes.
 * @throws QuantityError for a malformed or too large quantity, unless `opts.invalid` is 'zero'
 */
export function vmRequest(vm: { readonly spec?: RequestSpec }, opts: RequestOptions = {}): Resources {
  const spec = (vm.spec ?? {}) as Record<string, unknown>;
  const bytes = (q: unknown): number => {
    if (q === undefined) return 0;
    return opts.invalid === 'zero' ? countedBytes(q) : quantityBytes(q as string | number);
  };
  let storage = 0;
  const disks = Array.isArray(spec['disks']) ? (spec['disks'] as unknown[]) : [];
  for (const d of disks) {
    if (d !== null && typeof d === 'object' && isVmOwnedDisk(d as Disk)) storage += bytes((d as Disk).size);
  }
  const cpu = spec['cpu'];
  return {
    cpu: typeof cpu === 'number' && Number.isFinite(cpu) ? Math.max(0, cpu) : 0,
    memory: bytes(spec['memory']),
    storage,
  };
}
