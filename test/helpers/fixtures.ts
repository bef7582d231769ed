// Builders of Host and VirtualMachine objects and keys, shared by the tests and the placement
// benchmark.

import type { ObjectKey, StoredObject } from '../../kube/types';
import type { Condition, Placement, Taint } from '../../schemas/types.gen';
import { getCondition } from '../../kube/conditions';

export const API_VERSION = 'stratuslab.eu/v1alpha1';

export interface HostFixture {
  cpu?: number | string;
  memory?: string;
  storage?: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  reserved?: Record<string, string | number>;
  overcommit?: { cpu?: number; memory?: number; storage?: number };
  /** write a heartbeat and Ready=True now (as if the agent and host-health had run); default true */
  ready?: boolean;
}

export function hostObject(name: string, o: HostFixture = {}): StoredObject {
  const ready = o.ready ?? true;
  const status: Record<string, unknown> = {
    capacity: { cpu: o.cpu ?? 8, memory: o.memory ?? '16Gi', ...(o.storage ? { storage: o.storage } : {}) },
  };
  if (ready) {
    status.heartbeatTime = new Date().toISOString();
    status.conditions = [{ type: 'Ready', status: 'True', reason: 'LeaseRenewed', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }];
  }
  const spec: Record<string, unknown> = { overcommit: { cpu: 1, ...(o.overcommit ?? {}) } };
  if (o.taints) spec.taints = o.taints;
  if (o.unschedulable) spec.unschedulable = true;
  if (o.reserved) spec.reserved = o.reserved;
  return { apiVersion: API_VERSION, kind: 'Host', metadata: { name, labels: o.labels }, spec, status };
}

export interface VmFixture {
  cpu?: number;
  memory?: string;
  labels?: Record<string, string>;
  placement?: Placement;
  runStrategy?: 'Always' | 'RerunOnFailure' | 'Halted' | 'Manual';
  disks?: { name: string; size?: string; image?: string; volume?: string }[];
}

/** The key of VirtualMachine `namespace/name`. */
export const vmKey = (namespace: string, name: string): ObjectKey => ({ kind: 'VirtualMachine', namespace, name });

export function vmObject(namespace: string, name: string, o: VmFixture = {}): StoredObject {
  const spec: Record<string, unknown> = { runStrategy: o.runStrategy ?? 'Always', cpu: o.cpu ?? 1, memory: o.memory ?? '1Gi' };
  if (o.placement) spec.placement = o.placement;
  if (o.disks) spec.disks = o.disks;
  return { apiVersion: API_VERSION, kind: 'VirtualMachine', metadata: { name, namespace, labels: o.labels }, spec };
}

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i], i);
  }));
}

/** The condition `type` of an object's status, if any. */
export function conditionOf(o: StoredObject | undefined, type: string): Condition | undefined {
  return getCondition(o?.status?.conditions as Condition[] | undefined, type);
}
