/**
 * The status the agent writes on a Volume whose storage it holds, from what it observed: the
 * phase (Pending, Available, InUse, Failed, Terminating), where the storage is (host, pool,
 * path), its size, the VMs that use it and the Ready condition with a reason and a message that
 * says what is going on (e.g. which VMs keep a deleted Volume from going). Pure.
 */
import type { VolumeStatus } from '../../schemas/types.gen';
import { formatBytes } from '../../schemas/quantity';
import { setCondition } from '../../kube/conditions';

export interface VolumeFacts {
  namespace: string;
  host: string;
  pool: string;
  generation: number;
  deleting: boolean;
  /** the libvirt volume, if it exists */
  storage?: { path: string; capacityBytes: number; allocationBytes: number };
  /** names of the VMs on the host that use it */
  users: readonly string[];
  /** why the storage cannot be created, or creating it failed */
  problem?: { reason: string; message: string; terminal: boolean };
}

type Ready = { status: 'True' | 'False'; reason: string; message: string };

function summary(f: VolumeFacts): { phase: NonNullable<VolumeStatus['phase']>; ready: Ready } {
  const where = `pool ${f.pool} on host ${f.host}`;
  const vms = f.users.map((u) => `VirtualMachine ${f.namespace}/${u}`).join(', ');
  if (f.deleting && f.users.length > 0) {
    return { phase: 'Terminating', ready: { status: 'False', reason: 'InUse', message: `deleted, but in use by ${vms}: the volume goes once no VM uses it` } };
  }
  if (f.deleting) return { phase: 'Terminating', ready: { status: 'False', reason: 'Deleting', message: `deleting the libvirt volume from ${where}` } };
  if (f.problem) return { phase: f.problem.terminal ? 'Failed' : 'Pending', ready: { status: 'False', reason: f.problem.reason, message: f.problem.message } };
  if (!f.storage) return { phase: 'Pending', ready: { status: 'False', reason: 'Creating', message: `creating the libvirt volume in ${where}` } };
  if (f.users.length > 0) return { phase: 'InUse', ready: { status: 'True', reason: 'InUse', message: `in ${where}, used by ${vms}` } };
  return { phase: 'Available', ready: { status: 'True', reason: 'Available', message: `in ${where}; no VM uses it` } };
}

/**
 * `previous` with the agent's fields replaced from `f` and its Ready condition set
 * (lastTransitionTime changes only when the condition's status does); other fields are kept.
 */
export function volumeStatus(previous: VolumeStatus, f: VolumeFacts, now: number): VolumeStatus {
  const { phase, ready } = summary(f);
  const next: VolumeStatus = { ...structuredClone(previous), phase, host: f.host, pool: f.pool, observedGeneration: f.generation };
  if (f.storage) {
    next.path = f.storage.path;
    next.capacity = formatBytes(f.storage.capacityBytes);
    next.allocation = formatBytes(f.storage.allocationBytes);
  } else {
    delete next.path;
    delete next.capacity;
    delete next.allocation;
  }
  if (f.users.length > 0) next.usedBy = [...f.users];
  else delete next.usedBy;
  next.conditions = setCondition(next.conditions, { type: 'Ready', ...ready, observedGeneration: f.generation }, now);
  return next;
}
