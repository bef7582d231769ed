// Resource arithmetic of placement: what a VM requests and what a Host may hand out.
// allocatable = max(0, capacity - reserved) x overcommit (defaults cpu 4.0, memory 1.0, storage 1.0).

import { parseQuantity } from '../../schemas/quantity';
import type { Host, VirtualMachine } from '../../schemas/types.gen';

export interface Resources {
  /** vCPUs */
  cpu: number;
  /** bytes */
  memory: number;
  /** bytes; Infinity in an allocatable means "not tracked on this host" */
  storage: number;
}

export const ZERO: Resources = Object.freeze({ cpu: 0, memory: 0, storage: 0 });
export const DEFAULT_OVERCOMMIT = Object.freeze({ cpu: 4.0, memory: 1.0, storage: 1.0 });
export const RESOURCE_NAMES = ['cpu', 'memory', 'storage'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];

const q = (v: string | number | undefined): number => (v === undefined ? 0 : parseQuantity(v));

/**
 * What a VM needs on its host: its vCPUs, its memory, and the local disk space of the disks
 * created for it (blank disks and image clones with a size; Volumes are accounted elsewhere).
 * @throws QuantityError for a malformed quantity
 */
export function vmRequest(vm: Pick<VirtualMachine, 'spec'>): Resources {
  const spec = vm.spec;
  let storage = 0;
  for (const d of spec.disks ?? []) if (!d.volume && d.size !== undefined) storage += q(d.size);
  return { cpu: spec.cpu ?? 0, memory: q(spec.memory), storage };
}

/** What placement may hand out on a host, or undefined when its agent has reported no capacity. */
export function hostAllocatable(host: Pick<Host, 'spec' | 'status'>): Resources | undefined {
  const cap = host.status?.capacity;
  if (!cap || cap.cpu === undefined || cap.memory === undefined) return undefined;
  const res = host.spec?.reserved ?? {};
  const oc = { ...DEFAULT_OVERCOMMIT, ...(host.spec?.overcommit ?? {}) };
  const one = (c: number, r: number, ratio: number) => Math.max(0, c - r) * ratio;
  return {
    cpu: one(q(cap.cpu), q(res.cpu), oc.cpu),
    memory: one(q(cap.memory), q(res.memory), oc.memory),
    storage: cap.storage === undefined ? Infinity : one(q(cap.storage), q(res.storage), oc.storage),
  };
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
