// What an object counts against its project's quota, and what a quota allows. Pure functions.
//   VirtualMachine: 1 VM and its request (kube/resources.ts vmRequest, as placement and the agent
//                   count it: spec.cpu, spec.memory, and the disks it creates itself)
//   Volume:         spec.size bytes of storage (a clone without a size counts 0)
// Quantities round up to whole bytes; a malformed one counts 0 here and one above 8Pi counts 8Pi
// (kube/resources.ts countedBytes: quota never fails on a stored object, and never sees Infinity).

import { formatBytes } from '../../schemas/quantity';
import { countedBytes, vmRequest, type RequestSpec } from '../../kube/resources';
import type { StoredObject } from '../../store';

export interface Amounts {
  vms: number;
  cpu: number;
  memory: number;
  storage: number;
}

export type Limits = Partial<Amounts>;

export const DIMENSIONS: readonly (keyof Amounts)[] = ['vms', 'cpu', 'memory', 'storage'];
export const ZERO: Readonly<Amounts> = Object.freeze({ vms: 0, cpu: 0, memory: 0, storage: 0 });

/** Kinds that are charged to a project. */
export const CHARGED_KINDS: ReadonlySet<string> = new Set(['VirtualMachine', 'Volume']);

export function amountsOf(obj: StoredObject): Amounts {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (obj.kind === 'VirtualMachine') {
    const r = vmRequest({ spec: spec as RequestSpec }, { invalid: 'zero' });
    return { vms: 1, cpu: r.cpu, memory: r.memory, storage: r.storage };
  }
  if (obj.kind === 'Volume') return { vms: 0, cpu: 0, memory: 0, storage: countedBytes(spec['size']) };
  return { ...ZERO };
}

/** The quota of a Project (spec.quota); an unset dimension is unlimited. */
export function limitsOf(project: StoredObject | undefined): Limits | undefined {
  const q = (project?.spec?.['quota'] ?? undefined) as Record<string, unknown> | undefined;
  if (!q || typeof q !== 'object') return undefined;
  const out: Limits = {};
  if (typeof q['vms'] === 'number') out.vms = q['vms'];
  if (typeof q['cpu'] === 'number') out.cpu = q['cpu'];
  if (q['memory'] !== undefined) out.memory = countedBytes(q['memory']);
  if (q['storage'] !== undefined) out.storage = countedBytes(q['storage']);
  return Object.keys(out).length > 0 ? out : undefined;
}

export function add(a: Amounts, b: Amounts): Amounts {
  return { vms: a.vms + b.vms, cpu: a.cpu + b.cpu, memory: a.memory + b.memory, storage: a.storage + b.storage };
}

export function sub(a: Amounts, b: Amounts): Amounts {
  return { vms: a.vms - b.vms, cpu: a.cpu - b.cpu, memory: a.memory - b.memory, storage: a.storage - b.storage };
}

export function max(a: Amounts, b: Amounts): Amounts {
  return { vms: Math.max(a.vms, b.vms), cpu: Math.max(a.cpu, b.cpu), memory: Math.max(a.memory, b.memory), storage: Math.max(a.storage, b.storage) };
}

export function equal(a: Amounts, b: Amounts): boolean {
  return DIMENSIONS.every((d) => a[d] === b[d]);
}

export function isZero(a: Amounts): boolean {
  return equal(a, ZERO);
}

/** Dimensions where `after` exceeds the limit and grew from `before` (shrinking is always allowed). */
export function exceeded(before: Amounts, after: Amounts, limits: Limits | undefined): (keyof Amounts)[] {
  if (!limits) return [];
  return DIMENSIONS.filter((d) => limits[d] !== undefined && after[d] > before[d] && after[d] > limits[d]!);
}

function show(d: keyof Amounts, v: number): string {
  return d === 'memory' || d === 'storage' ? formatBytes(Math.max(0, v)) : String(v);
}

/** `requested: vms=1, used: vms=10, limited: vms=10`, as Kubernetes words a quota refusal. */
export function describeExcess(dims: (keyof Amounts)[], requested: Amounts, used: Amounts, limits: Limits): string {
  const part = (f: (d: keyof Amounts) => number) => dims.map((d) => `${d}=${show(d, f(d))}`).join(',');
  return `requested: ${part((d) => requested[d])}, used: ${part((d) => used[d])}, limited: ${part((d) => limits[d]!)}`;
}

/** Usage as a Project's status shows it (quantities for bytes). */
export function usageStatus(a: Amounts): Record<string, unknown> {
  return { vms: a.vms, cpu: Math.ceil(a.cpu), memory: formatBytes(Math.max(0, a.memory)), storage: formatBytes(Math.max(0, a.storage)) };
}
