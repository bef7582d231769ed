// A VM's start, stop and restart requests (status.stateChangeRequests, as KubeVirt's): the API's
// actions add them, the VM's agent carries them out in order and removes each one it has done.

import type { StateChangeRequest, VirtualMachineStatus } from '../schemas/types.gen';

export type { StateChangeRequest };
export type StateChangeAction = StateChangeRequest['action'];

/** At most this many requests wait at once; the API refuses more (409). */
export const MAX_STATE_CHANGE_REQUESTS = 8;

/** The requests waiting for the VM incarnation `uid`, oldest first (those of an earlier VM of the same name are ignored). */
export function pendingRequests(status: Pick<VirtualMachineStatus, 'stateChangeRequests'> | undefined, uid: string | undefined): StateChangeRequest[] {
  return (status?.stateChangeRequests ?? []).filter((r) => r.uid === uid);
}

/**
 * `status.stateChangeRequests` without the requests `done` names and without those of another
 * incarnation than `uid`; undefined when none is left (the field is then removed).
 */
export function remainingRequests(
  status: Pick<VirtualMachineStatus, 'stateChangeRequests'> | undefined,
  uid: string | undefined,
  done: ReadonlySet<string>,
): StateChangeRequest[] | undefined {
  const left = pendingRequests(status, uid).filter((r) => !done.has(r.id));
  return left.length > 0 ? left : undefined;
}
