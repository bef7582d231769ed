// What a VM's start, stop or restart action changes, by runStrategy, as KubeVirt's subresources do.
// Pure: given the VM as it is, the new VM to write (compare-and-set by the caller), or a 409 saying why.
//
//   runStrategy      start                      stop                              restart
//   Always           409 (it runs by itself)    spec -> Halted (+ Stop if grace)  Restart request
//   RerunOnFailure   Start request if Stopped   spec -> Halted (+ Stop if grace)  Restart request
//   Halted           spec -> Always             409, or Stop (a shorter grace)    409
//   Manual           Start request              Stop request                      Restart request
//
// A spec change raises metadata.generation, so GitOps tools see it. A restart, a stop and a start
// need a VM that runs, runs, and does not run, counting the requests still waiting.

import { ConflictError } from '../../errors';
import { MAX_STATE_CHANGE_REQUESTS, pendingRequests, type StateChangeRequest } from '../../kube/state-change';
import type { VirtualMachineObject } from '../../store';

export type VmAction = 'start' | 'stop' | 'restart';
export const VM_ACTIONS: readonly VmAction[] = ['start', 'stop', 'restart'];

export interface ActionRequest {
  action: VmAction;
  gracePeriodSeconds?: number;
  /** the new request's id and time, and who asks */
  id: string;
  now: string;
  user?: string;
}

export interface Decision {
  /** the VM to write (spec and/or status changed) */
  next: VirtualMachineObject;
  /** what was done, for people: e.g. "runStrategy set to Halted: the VM will stop" */
  message: string;
}

/** Phases of a VM whose domain runs or is being started. */
const UP: ReadonlySet<string> = new Set(['Running', 'Starting']);

function conflict(vm: VirtualMachineObject, why: string): ConflictError {
  return new ConflictError(`Operation cannot be fulfilled on virtualmachines.stratuslab.eu "${vm.metadata.name}": ${why}`, {
    name: vm.metadata.name, kind: 'virtualmachines',
  });
}

/** Whether the VM runs once the waiting requests are carried out (Start and Restart run it, Stop stops it). */
function runsAfter(up: boolean, pending: StateChangeRequest[]): boolean {
  return pending.reduce((running, r) => (r.action === 'Stop' ? false : r.action === 'Start' ? true : running), up);
}

function request(r: ActionRequest, uid: string, action: StateChangeRequest['action']): StateChangeRequest {
  const out: StateChangeRequest = { action, uid, id: r.id, requestTime: r.now };
  if (r.gracePeriodSeconds !== undefined && action !== 'Start') out.gracePeriodSeconds = r.gracePeriodSeconds;
  if (r.user) out.user = r.user;
  return out;
}

export function decide(vm: VirtualMachineObject, r: ActionRequest): Decision {
  if (vm.metadata.deletionTimestamp) throw conflict(vm, 'VM is being deleted');
  const next = structuredClone(vm);
  const status = (next.status ??= {});
  const uid = vm.metadata.uid ?? '';
  const strategy = vm.spec.runStrategy ?? 'Always';
  const phase = vm.status?.phase ?? 'Pending';
  const pending = pendingRequests(vm.status, uid);
  const up = UP.has(phase);
  const willRun = runsAfter(up, pending);
  const waiting = pending.length > 0 ? ` once its ${pending.length} waiting request(s) are carried out` : '';
  // Requests of an earlier VM of the same name are dropped on the way.
  const setRequests = (list: StateChangeRequest[]) => {
    if (list.length > MAX_STATE_CHANGE_REQUESTS) {
      throw conflict(vm, `too many waiting start, stop and restart requests (${pending.length}): wait until its agent has carried them out`);
    }
    if (list.length > 0) status.stateChangeRequests = list;
    else delete status.stateChangeRequests;
  };

  switch (r.action) {
    case 'start':
      if (strategy === 'Always') {
        throw conflict(vm, up ? 'VM is already running (runStrategy Always keeps it running)' : `runStrategy Always starts the VM by itself (it is ${phase})`);
      }
      if (strategy === 'Halted') {
        next.spec.runStrategy = 'Always';
        // A stop still waiting is moot once the VM is to run.
        setRequests(pending.filter((x) => x.action !== 'Stop'));
        return { next, message: 'runStrategy changed from Halted to Always: the VM will start' };
      }
      if (willRun) throw conflict(vm, `VM is already running${pending.length > 0 && !up ? waiting : ''}`);
      if (strategy === 'RerunOnFailure' && phase !== 'Stopped' && pending.length === 0) {
        throw conflict(vm, `runStrategy RerunOnFailure restarts the VM by itself after a failure (it is ${phase})`);
      }
      setRequests([...pending, request(r, uid, 'Start')]);
      return { next, message: 'start requested: its agent will boot the VM' };

    case 'stop':
      if (strategy === 'Always' || strategy === 'RerunOnFailure') {
        next.spec.runStrategy = 'Halted';
        // Starts and restarts still waiting are moot; a grace period is handed to the agent as a Stop request.
        const kept = pending.filter((x) => x.action === 'Stop');
        setRequests(r.gracePeriodSeconds !== undefined ? [request(r, uid, 'Stop')] : kept);
        return { next, message: `runStrategy changed from ${strategy} to Halted: the VM will stop` };
      }
      if (strategy === 'Halted') {
        if (!up) throw conflict(vm, `VM is not running (runStrategy Halted, ${phase})`);
        if (r.gracePeriodSeconds === undefined) {
          throw conflict(vm, 'VM is already stopping (runStrategy Halted): give gracePeriodSeconds to shorten its shutdown');
        }
        setRequests([request(r, uid, 'Stop')]);
        return { next, message: `stop requested: its agent will power the VM off within ${r.gracePeriodSeconds}s` };
      }
      // Manual: a stop replaces whatever waits (as KubeVirt's), so it also cancels a start not yet done.
      if (!willRun) throw conflict(vm, `VM is not running${pending.length > 0 && up ? waiting : ''}`);
      setRequests([request(r, uid, 'Stop')]);
      return { next, message: 'stop requested: its agent will shut the VM down' };

    case 'restart':
      if (strategy === 'Halted') throw conflict(vm, 'runStrategy Halted does not allow a restart: the VM is stopped; start it instead');
      if (!willRun) throw conflict(vm, `VM is not running (${phase}${pending.length > 0 ? `, ${pending.length} request(s) waiting` : ''}): start it instead`);
      if (pending[pending.length - 1]?.action === 'Restart') throw conflict(vm, 'a restart is already waiting to be carried out');
      setRequests([...pending, request(r, uid, 'Restart')]);
      return { next, message: 'restart requested: its agent will stop the VM and start it again' };
  }
}
