// How a VM's phase and observedGeneration follow from its binding and its agent's report; shared
// by the scheduler (which writes them with a binding) and the VM lifecycle controller.
//
// The agent's contract (issue 3): on VMs bound to its host it writes the Ready condition — True
// while the domain runs; False with reason Starting, Stopped or Failed otherwise — with
// observedGeneration = the generation its domain reflects, plus domainUUID and startTime.

import type { VirtualMachineObject } from '../store';
import type { VirtualMachineStatus } from '../schemas/types.gen';
import { getCondition } from '../kube/conditions';

export type Phase = NonNullable<VirtualMachineStatus['phase']>;

/** The Scheduled=False reason of VMs whose Host object was deleted (host-removal.ts). */
export const HOST_DELETED = 'HostDeleted';

/** What these rules read of a VM. */
type VmView = Readonly<Pick<VirtualMachineObject, 'metadata' | 'spec' | 'status'>>;

const runStrategyOf = (vm: Pick<VmView, 'spec'>) => vm.spec.runStrategy ?? 'Always';

/** VMs of these run strategies are placed again elsewhere when their host is deleted. */
export function restartsElsewhere(vm: Pick<VmView, 'spec'>): boolean {
  const rs = runStrategyOf(vm);
  return rs === 'Always' || rs === 'RerunOnFailure';
}

/**
 * A VM its deleted host left without a host that is not restarted elsewhere by itself (runStrategy
 * Manual or Halted): Failed, and not placed again, until its spec changes.
 */
export function strandedByHostDeletion(vm: VmView): boolean {
  if (vm.status?.host || restartsElsewhere(vm)) return false;
  const scheduled = getCondition(vm.status?.conditions, 'Scheduled');
  return scheduled?.status === 'False' && scheduled.reason === HOST_DELETED && scheduled.observedGeneration === vm.metadata.generation;
}

export interface DerivedStatus {
  phase: Phase;
  observedGeneration?: number;
}

/** Ready=False reasons of the agent (agents/vm/status.ts) for a domain that is stopped and meant to stay so. */
const STOPPED_REASONS: ReadonlySet<string> = new Set(['Stopped', 'Evicted', 'Halted', 'Succeeded']);
/** Ready=False reasons of the agent for a domain that still runs (shutting down for a stop or restart, or paused). */
const UP_REASONS: ReadonlySet<string> = new Set(['Stopping', 'Restarting', 'Paused']);

export function derivePhase(vm: VmView): DerivedStatus {
  const status: VirtualMachineStatus = vm.status ?? {};
  const conds = status.conditions;
  const gen = vm.metadata.generation;
  const runStrategy = runStrategyOf(vm);
  if (vm.metadata.deletionTimestamp) return { phase: 'Terminating', observedGeneration: status.observedGeneration };
  const scheduled = getCondition(conds, 'Scheduled');
  if (!status.host) {
    if (strandedByHostDeletion(vm)) return { phase: 'Failed', observedGeneration: gen };
    if (runStrategy === 'Halted') return { phase: 'Stopped', observedGeneration: gen };
    return { phase: 'Pending', observedGeneration: scheduled?.observedGeneration ?? status.observedGeneration };
  }
  const ready = getCondition(conds, 'Ready');
  const observedGeneration = ready?.observedGeneration ?? status.observedGeneration;
  if (ready?.status === 'True') return { phase: 'Running', observedGeneration };
  if (ready?.status === 'False') {
    if (ready.reason === 'Failed') return { phase: 'Failed', observedGeneration };
    if (ready.reason !== undefined && STOPPED_REASONS.has(ready.reason)) return { phase: 'Stopped', observedGeneration };
    if (ready.reason !== undefined && UP_REASONS.has(ready.reason)) return { phase: 'Running', observedGeneration };
    if (ready.reason === 'Starting') return { phase: 'Starting', observedGeneration };
  }
  if (ready?.status === 'Unknown' && status.phase) return { phase: status.phase, observedGeneration };
  return { phase: status.domainUUID ? 'Starting' : 'Scheduled', observedGeneration };
}
