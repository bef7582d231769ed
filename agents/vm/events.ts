/**
 * The Events one VM reconcile reports (core/v1, recorded on the VM by the host's recorder): what
 * the agent did (Created, Started, Stopped), what it found (Crashed) and why it could not act
 * (ImageDownloadFailed, a failed action). Pure: from the reconcile's plan, outcome and statuses.
 * Messages name the host and the domain only: never user data.
 */
import type { EventType } from '../../kube/events';
import type { Phase, AgentStatus } from './status';
import type { Action, Observed, Plan } from './plan';
import type { Problem } from './desired';

export interface VmEvent {
  type: EventType;
  reason: string;
  message: string;
}

export interface VmEventInput {
  host: string;
  /** the libvirt domain's name */
  domain: string;
  /** the VM's phase before this reconcile (its status as read) */
  previousPhase?: Phase;
  next: AgentStatus;
  plan: Plan;
  observed: Observed;
  done: Action[];
  started: boolean;
  error?: { reason: string; message: string };
  problem?: Problem;
}

/** Problems that are progress, not failures: no event. */
const QUIET_PROBLEMS = new Set(['ImageDownloading']);

export function vmEvents(i: VmEventInput): VmEvent[] {
  const out: VmEvent[] = [];
  const d = i.observed.domain;
  const crashed = d !== undefined && (d.state === 'crashed' || (d.state === 'shutoff' && d.reason === 'crashed'));
  // Seen once per crash: while the VM still reads Running, or as the agent restarts it.
  if (crashed && (i.previousPhase === 'Running' || i.plan.starts)) {
    out.push({ type: 'Warning', reason: 'Crashed', message: `the domain ${i.domain} crashed on host ${i.host}${i.plan.starts ? '; restarting it' : ''}` });
  }
  if (i.done.some((a) => a.type === 'define' && a.why === 'create')) {
    out.push({ type: 'Normal', reason: 'Created', message: `defined the domain ${i.domain} on host ${i.host}` });
  }
  if (i.plan.forcedAfterMs !== undefined && i.done.some((a) => a.type === 'destroy')) {
    out.push({ type: 'Warning', reason: 'ShutdownTimeout', message: `the guest did not shut down within ${Math.round(i.plan.forcedAfterMs / 1000)} s; the domain ${i.domain} on host ${i.host} was powered off` });
  }
  if (i.started) out.push({ type: 'Normal', reason: 'Started', message: `started the domain ${i.domain} on host ${i.host}` });
  if (i.previousPhase === 'Running' && i.next.phase === 'Stopped' && !i.started) {
    out.push({ type: i.next.ready.reason === 'Fenced' ? 'Warning' : 'Normal', reason: 'Stopped', message: i.next.ready.message });
  }
  if (i.problem && !QUIET_PROBLEMS.has(i.problem.reason)) out.push({ type: 'Warning', reason: i.problem.reason, message: i.problem.message });
  else if (i.error) out.push({ type: 'Warning', reason: i.error.reason, message: i.error.message });
  return out;
}
