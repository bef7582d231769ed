/**
 * The VM status the agent writes, computed from the outcome of one reconcile, and its merge into
 * the status others write too (the placement controller owns host and the Scheduled condition).
 * Pure. Written even when the sync failed: the failure becomes the Ready condition's reason.
 */
import type { VirtualMachineStatus } from '../../schemas/types.gen';
import { removeCondition, setCondition } from '../../kube/conditions';
import { isoSeconds } from '../../kube/time';
import { EVICTED_REASON } from '../../kube/names';
import { remainingRequests } from '../../kube/state-change';
import type { DomainStateName } from '../../libvirt';
import type { DesiredVm, Problem } from './desired';
import type { Plan } from './plan';

export type Phase = NonNullable<VirtualMachineStatus['phase']>;

/** The condition saying the running domain must restart for a spec change to apply. */
export const RESTART_REQUIRED = 'RestartRequired';

/** The fields of VirtualMachine.status the agent owns; nothing else is ever changed by it. */
export const AGENT_STATUS_FIELDS = ['phase', 'observedGeneration', 'domainUUID', 'consoleLog', 'startTime', 'volumes'] as const;

export interface AgentStatus {
  phase: Phase;
  observedGeneration: number;
  ready: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };
  domainUUID?: string;
  consoleLog?: string;
  startTime?: string;
  volumes?: VirtualMachineStatus['volumes'];
  /** the domain is not running any more: status.interfaces and status.ip go (the address poller writes them while it runs) */
  clearAddresses?: boolean;
  /** condition RestartRequired=True with this reason and message; absent: the condition is removed */
  restartRequired?: { reason: string; message: string };
  /** start, stop and restart requests of incarnation `uid` that are done: removed from status.stateChangeRequests */
  requests?: { uid: string; done: string[] };
}

export interface DomainAfter {
  uuid: string;
  state: DomainStateName;
  reason: string;
}

export interface StatusInput {
  host: string;
  generation: number;
  previous: VirtualMachineStatus;
  desired?: DesiredVm;
  deleting: boolean;
  fenced: boolean;
  /** the VM cannot be built or run here */
  problem?: Problem;
  plan?: Plan;
  /** an action failed */
  error?: { reason: string; message: string };
  /** the domain after the actions, if it exists (and is ours) */
  after?: DomainAfter;
  /** a start action succeeded in this reconcile */
  started: boolean;
  now: number;
}

const RUNNING: ReadonlySet<DomainStateName> = new Set(['running', 'blocked']);
/** A domain in one of these states still has its guest (paused or shutting down included). */
const ACTIVE: ReadonlySet<DomainStateName> = new Set(['running', 'blocked', 'paused', 'shutdown', 'pmsuspended', 'crashed']);

function isActiveState(state: DomainStateName): boolean {
  return ACTIVE.has(state);
}

export function computeStatus(i: StatusInput): AgentStatus {
  const after = i.after;
  const running = after !== undefined && RUNNING.has(after.state);
  let startTime = i.previous.startTime;
  if (i.started || (running && !startTime)) startTime = isoSeconds(i.now);
  const out: Omit<AgentStatus, 'phase' | 'ready'> = {
    observedGeneration: i.generation,
    domainUUID: after?.uuid ?? i.previous.domainUUID,
    consoleLog: i.desired?.domain.consoleLog ?? i.previous.consoleLog,
    startTime,
    volumes: i.desired
      ? i.desired.volumes.map((v) => ({
        name: v.disk, path: v.path, pool: v.pool, ...(v.volumeObject ? { volume: v.volumeObject } : {}), ...(v.sharedPool ? { sharedPool: v.sharedPool } : {}),
      }))
      : i.previous.volumes,
    clearAddresses: after === undefined || !isActiveState(after.state),
    ...(after !== undefined && isActiveState(after.state) && i.plan?.restartRequired ? { restartRequired: i.plan.restartRequired } : {}),
  };
  const ready = (status: 'True' | 'False' | 'Unknown', reason: string, message: string) => ({ status, reason, message });
  const failedPhase = (terminal: boolean): Phase => (running ? 'Running' : terminal ? 'Failed' : 'Starting');

  if (i.deleting) {
    return { ...out, phase: 'Terminating', ready: ready('False', i.error?.reason ?? 'Terminating', i.error?.message ?? `removing the domain and its volumes from host ${i.host}`) };
  }
  if (i.fenced) {
    return { ...out, phase: 'Stopped', ready: ready('False', 'Fenced', `host ${i.host} lost its lease: the domain is stopped until the lease is renewed`) };
  }
  if (i.problem) return { ...out, phase: failedPhase(i.problem.terminal), ready: ready('False', i.problem.reason, i.problem.message) };
  if (i.error) return { ...out, phase: failedPhase(false), ready: ready('False', i.error.reason, i.error.message) };

  let intent = i.plan?.intent ?? 'run';
  if (running) {
    if (intent === 'stop') {
      const request = i.plan?.request;
      if (request?.action === 'Restart') return { ...out, phase: 'Running', ready: ready('False', 'Restarting', 'a restart was requested: the guest is shutting down, then it starts again') };
      const why = i.desired?.evicting ? `host ${i.host} is being drained` : request ? 'a stop was requested' : 'runStrategy is Halted';
      return { ...out, phase: 'Running', ready: ready('False', 'Stopping', `${why}: the guest is shutting down`) };
    }
    const note = i.plan?.restartPending ? ` (its definition changed: ${i.plan.drift.join(', ')}; effective at the next restart)` : '';
    return { ...out, phase: 'Running', ready: ready('True', 'Running', `the domain runs on host ${i.host}${note}`) };
  }
  const state = after?.state ?? 'shutoff';
  const why = after ? `${after.state}${after.reason && after.reason !== 'unknown' ? ` (${after.reason})` : ''}` : 'not defined';
  if (state === 'paused') return { ...out, phase: 'Running', ready: ready('False', 'Paused', `the domain is paused (${after?.reason ?? 'unknown'})`) };
  if (intent === 'stop' && i.desired?.evicting) {
    return { ...out, phase: 'Stopped', ready: ready('False', EVICTED_REASON, `host ${i.host} is being drained: the domain is stopped, the VM may move`) };
  }
  // A Manual VM stopped by a request reads as it will once the request has left status.
  if (intent === 'stop' && i.plan?.request && i.desired?.runStrategy !== 'Halted') intent = 'leave';
  if (intent === 'stop') return { ...out, phase: 'Stopped', ready: ready('False', 'Halted', 'runStrategy is Halted: the domain is stopped') };
  if (intent === 'leave') {
    const strategy = i.desired?.runStrategy ?? 'Manual';
    if (strategy === 'RerunOnFailure') {
      return { ...out, phase: 'Stopped', ready: ready('False', 'Succeeded', 'the guest shut down; runStrategy RerunOnFailure restarts it only after a failure') };
    }
    return { ...out, phase: 'Stopped', ready: ready('False', 'Stopped', `the domain is ${why}; runStrategy Manual: the agent starts it only when asked (the start action)`) };
  }
  return { ...out, phase: 'Starting', ready: ready('False', 'Starting', `the domain is ${why}`) };
}

/**
 * `previous` with the agent's fields replaced by `s` and its Ready condition set;
 * lastTransitionTime changes only when the condition's status does. Everything else is kept.
 */
export function mergeStatus(previous: VirtualMachineStatus, s: AgentStatus, now: number): VirtualMachineStatus {
  const next: VirtualMachineStatus = { ...structuredClone(previous) };
  for (const f of AGENT_STATUS_FIELDS) {
    const v = s[f];
    if (v === undefined) delete next[f];
    else (next as Record<string, unknown>)[f] = structuredClone(v);
  }
  next.conditions = setCondition(next.conditions, { type: 'Ready', ...s.ready, observedGeneration: s.observedGeneration }, now);
  next.conditions = s.restartRequired
    ? setCondition(next.conditions, { type: RESTART_REQUIRED, status: 'True', ...s.restartRequired, observedGeneration: s.observedGeneration }, now)
    : removeCondition(next.conditions, RESTART_REQUIRED);
  if (s.clearAddresses) {
    delete next.interfaces;
    delete next.ip;
  }
  if (s.requests && next.stateChangeRequests) {
    // Only the requests carried out go: those the API added since stay, in order.
    const left = remainingRequests(next, s.requests.uid, new Set(s.requests.done));
    if (left) next.stateChangeRequests = left;
    else delete next.stateChangeRequests;
  }
  return next;
}
