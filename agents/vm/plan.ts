/**
 * plan(input): the libvirt actions that converge one VM's domain and volumes on its spec, from
 * what is desired and what libvirt shows. Pure and level-triggered: it never asks what event
 * woke it. The executor (execute.ts) carries the actions out in order.
 */
import type { DomainStateName } from '../../libvirt';
import { fingerprintDiff, fingerprintOf, type DomainFingerprint, type DomainOwner } from '../domain';
import { parseVmVolumeName, uidTag } from '../names';
import type { StateChangeRequest } from '../../kube/state-change';
import type { DesiredVm, Problem } from './desired';

export interface ObservedDomain {
  name: string;
  uuid: string;
  state: DomainStateName;
  /** why it is in that state, e.g. 'destroyed', 'crashed', 'shutdown', 'booted' */
  reason: string;
  /** our ownership mark, if the domain has one */
  owner?: DomainOwner;
  /** managed fields of the persistent definition */
  fingerprint: DomainFingerprint;
  /** disk files of the definition */
  diskPaths: string[];
  /** the cloud-init seed hash of the running domain (its live definition), when it was read */
  liveSeed?: string;
  /** ids of the restart requests carried out on this domain (its requests mark) */
  honouredRequests?: string[];
}

export interface ObservedVolume {
  pool: string;
  name: string;
  path: string;
}

export interface Observed {
  /** the domain named after the VM, if any (ours or not) */
  domain?: ObservedDomain;
  /** volumes that exist: the desired ones, and this VM's leftovers (any incarnation) */
  volumes: ObservedVolume[];
  /** when the agent asked the guest to shut down (graceful stop in progress) */
  shutdownRequestedAt?: number;
  /** the VM's cloud-init seed file on this host, if there is one, and the hash it was made from (if known) */
  seed?: { path: string; hash?: string };
}

export type Action =
  | { type: 'createVolume'; pool: string; name: string; xml: string }
  | { type: 'deleteVolume'; pool: string; name: string }
  | { type: 'define'; xml: string; why: 'create' | 'repair' }
  | { type: 'start' }
  | { type: 'resume' }
  /** ask the guest to shut down: through the qemu guest agent when the domain has one (else ACPI), else the ACPI power button */
  | { type: 'shutdown'; guestAgent?: boolean }
  | { type: 'destroy' }
  | { type: 'undefine' }
  /** (re)writes the cloud-init seed ISO; its content comes from the desired VM, never in the action */
  | { type: 'writeSeed'; path: string; hash: string }
  | { type: 'deleteSeed'; path: string }
  /** records carried-out restart requests on the domain (agents/domain/requests-mark.ts) */
  | { type: 'markRequests'; ids: string[] };

export type Intent = 'run' | 'stop' | 'leave' | 'remove' | 'fenced';

export interface PlanInput {
  host: string;
  /** the VM bound to this host and not being deleted; undefined: remove what is ours */
  desired?: DesiredVm;
  observed: Observed;
  /** the lease is lost: stop everything, start nothing */
  fenced: boolean;
  now: number;
  /** how long a guest gets to shut down before it is destroyed */
  shutdownGraceMs: number;
  /** the start, stop or restart request to act on (agents/vm/requests.ts), if any */
  request?: StateChangeRequest;
  /**
   * Without `desired`: the volumes ("pool/name") to leave in place, because the VM still exists
   * and they are its data, moving with it (agents/vm/disk-keep.ts). Absent: remove them all (deletion).
   */
  keep?: readonly string[];
}

/** What a plan does about the request it was given. */
export interface PlanRequest {
  id: string;
  action: StateChangeRequest['action'];
  /** the request is carried out once these actions succeed (a stop or restart in progress: false) */
  done: boolean;
}

export interface Plan {
  actions: Action[];
  intent: Intent;
  /** reconcile again after this long (a graceful shutdown in progress) */
  requeueAfterMs?: number;
  /** nothing can be done about this VM here, and why (reported in status) */
  blocked?: Problem;
  /** after these actions nothing of the VM is left on this host */
  cleanedUp: boolean;
  /** the actions boot the domain */
  starts: boolean;
  /** the definition was changed while the domain runs: effective at its next boot */
  restartPending: boolean;
  /** the guest did not shut down within this grace (ms): it is powered off (a Warning event) */
  forcedAfterMs?: number;
  /** the managed fields that differed from the spec (a repaired definition) */
  drift: string[];
  /** the running domain was started with an older cloud-init seed: a restart applies the new one */
  restartRequired?: { reason: string; message: string };
  /** the request acted on, and whether these actions complete it */
  request?: PlanRequest;
}

const ACTIVE: ReadonlySet<DomainStateName> = new Set(['running', 'blocked', 'paused', 'shutdown', 'pmsuspended', 'crashed']);

export function isActive(state: DomainStateName): boolean {
  return ACTIVE.has(state);
}

function ownedBy(host: string, d: ObservedDomain | undefined): boolean {
  return d?.owner !== undefined && d.owner.host === host;
}

/** The actions that remove an owned domain and the given volumes. */
function removal(domain: ObservedDomain | undefined, volumes: ObservedVolume[]): Action[] {
  const out: Action[] = [];
  if (domain) {
    if (isActive(domain.state)) out.push({ type: 'destroy' });
    out.push({ type: 'undefine' });
  }
  for (const v of volumes) out.push({ type: 'deleteVolume', pool: v.pool, name: v.name });
  return out;
}

/** Whether the VM should be running now, or be left as it is (Manual: only requests start or stop it). */
function runIntent(d: DesiredVm, domain: ObservedDomain | undefined): 'run' | 'stop' | 'leave' {
  if (d.evicting) return 'stop'; // a drain moves it: stopped here first, whatever its runStrategy
  switch (d.runStrategy) {
    case 'Always':
      return 'run';
    case 'Halted':
      return 'stop';
    case 'Manual':
      // Never started or stopped by the agent on its own: start, stop and restart requests do it.
      return 'leave';
    case 'RerunOnFailure':
      if (!d.everStarted || !domain) return 'run';
      // A guest that shut itself down cleanly has finished; anything else is a failure to rerun.
      if (domain.state === 'shutoff' && domain.reason === 'shutdown') return 'leave';
      return 'run';
    default:
      return 'run';
  }
}

export function plan(input: PlanInput): Plan {
  const { desired, observed, host } = input;
  const domain = observed.domain;
  const owned = ownedBy(host, domain);
  const base: Plan = { actions: [], intent: 'remove', cleanedUp: false, starts: false, restartPending: false, drift: [] };

  // Gone, unbound or being deleted: remove our domain (never a foreign one) and this VM's volumes,
  // except those an unbound VM keeps (its data on a shared pool goes with it; a move never deletes it).
  if (!desired) {
    const keep = new Set(input.keep ?? []);
    const volumes = observed.volumes.filter((v) => parseVmVolumeName(v.name) !== undefined && !keep.has(`${v.pool}/${v.name}`));
    const seed: Action[] = observed.seed ? [{ type: 'deleteSeed', path: observed.seed.path }] : [];
    return { ...base, actions: [...removal(owned ? domain : undefined, volumes), ...seed], cleanedUp: true };
  }

  if (domain && !owned) {
    return {
      ...base,
      intent: 'leave',
      blocked: {
        reason: 'DomainNameConflict',
        message: `a domain named ${domain.name} that the agent does not manage exists on host ${host}; rename or remove it`,
        terminal: false,
      },
    };
  }

  const actions: Action[] = [];
  let current = domain;
  const tag = uidTag(desired.uid);
  // A domain or volumes of an earlier VM with the same name: remove them first.
  const stale = current !== undefined && current.owner!.uid !== desired.uid;
  const oldVolumes = observed.volumes.filter((v) => {
    const p = parseVmVolumeName(v.name);
    return p !== undefined && p.uidTag !== tag;
  });
  if (stale || oldVolumes.length > 0) {
    actions.push(...removal(stale ? current : undefined, oldVolumes));
    if (stale) current = undefined;
  }

  if (input.fenced) {
    if (current && isActive(current.state)) actions.push({ type: 'destroy' });
    return { ...base, actions, intent: 'fenced' };
  }

  const have = new Set(observed.volumes.map((v) => `${v.pool}/${v.name}`));
  for (const v of desired.volumes) {
    if (!have.has(`${v.pool}/${v.name}`)) actions.push({ type: 'createVolume', pool: v.pool, name: v.name, xml: v.xml });
  }
  // The seed is (re)written before the domain that attaches it is defined or started; a running
  // domain keeps the file it opened (the new one replaces it by rename).
  if (desired.seed && observed.seed?.hash !== desired.seed.hash) actions.push({ type: 'writeSeed', path: desired.seed.path, hash: desired.seed.hash });

  let drift: string[] = [];
  let restartPending = false;
  if (!current) {
    actions.push({ type: 'define', xml: desired.xml, why: 'create' });
  } else {
    drift = fingerprintDiff(fingerprintOf(desired.xml), current.fingerprint);
    if (drift.length > 0) {
      actions.push({ type: 'define', xml: desired.xml, why: 'repair' });
      restartPending = isActive(current.state);
    }
  }

  const state: DomainStateName = current?.state ?? 'shutoff';
  let intent: 'run' | 'stop' | 'leave' = runIntent(desired, current);
  let grace = input.shutdownGraceMs;
  // A request overrides the runStrategy until it is carried out (never while a drain moves the VM).
  const req = desired.evicting ? undefined : input.request;
  let request: PlanRequest | undefined;
  if (req) {
    if (req.gracePeriodSeconds !== undefined) grace = req.gracePeriodSeconds * 1000;
    // A restart stops a running domain first, then starts it (destroy + start: a new boot, which
    // also applies a changed definition); a domain already stopped is only started.
    const stopFirst = req.action === 'Stop' || (req.action === 'Restart' && isActive(state));
    intent = stopFirst ? 'stop' : 'run';
    request = { id: req.id, action: req.action, done: !stopFirst || !isActive(state) };
  }
  let starts = false;
  let forced: number | undefined;
  let requeueAfterMs: number | undefined;
  if (intent === 'run') {
    if (state === 'crashed') {
      actions.push({ type: 'destroy' }, { type: 'start' });
      starts = true;
    } else if (state === 'shutoff' || state === 'nostate' || state === 'unknown') {
      actions.push({ type: 'start' });
      starts = true;
    } else if (state === 'paused') {
      actions.push({ type: 'resume' });
    }
  } else if (intent === 'stop' && isActive(state)) {
    const asked = observed.shutdownRequestedAt;
    let destroy = false;
    if (state === 'paused' || state === 'crashed' || state === 'pmsuspended') {
      destroy = true;
    } else if (asked === undefined && grace > 0) {
      actions.push(desired.domain.guestAgent ? { type: 'shutdown', guestAgent: true } : { type: 'shutdown' });
      requeueAfterMs = grace;
    } else if (asked === undefined || input.now - asked >= grace) {
      destroy = true;
      if (asked !== undefined) forced = grace;
    } else {
      requeueAfterMs = grace - (input.now - asked);
    }
    if (destroy) actions.push({ type: 'destroy' });
    // A stop is carried out once the domain is off; a restart then starts it in the same go.
    if (request && destroy) {
      request.done = true;
      if (request.action === 'Restart') {
        actions.push({ type: 'start' });
        starts = true;
        intent = 'run';
      }
    }
  }
  if (request?.done && req!.action === 'Restart') {
    actions.push({ type: 'markRequests', ids: [...(current?.honouredRequests ?? []), req!.id] });
  }
  return { ...base, actions, intent, starts, requeueAfterMs, restartPending: restartPending && !starts, drift, request, ...(forced !== undefined ? { forcedAfterMs: forced } : {}), ...cloudInitRestart(desired, current, starts) };
}

/** RestartRequired: the domain runs with a seed other than the one the spec now makes (it reads it at boot). */
function cloudInitRestart(desired: DesiredVm, current: ObservedDomain | undefined, starts: boolean): Pick<Plan, 'restartRequired'> {
  if (!desired.seed || !current || !isActive(current.state) || starts || current.liveSeed === desired.seed.hash) return {};
  return {
    restartRequired: {
      reason: 'CloudInitChanged',
      message: 'spec.cloudInit changed while the domain runs: the new cloud-init seed is read at the next boot (stop and start, or the restart action)',
    },
  };
}
