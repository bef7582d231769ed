/**
 * Which of a VM's start, stop and restart requests (status.stateChangeRequests) the agent acts on
 * now: the oldest one not yet carried out that still means something under the VM's runStrategy.
 * The others before it are done (carried out already, or moot) and are removed from status. Pure.
 */
import type { StateChangeRequest } from '../../kube/state-change';
import type { RunStrategy } from './desired';

/**
 * Whether a request still asks something of the agent under `strategy`. Always runs the VM and
 * Halted stops it by themselves, so a Start means nothing under either, nor a Restart under
 * Halted; a Stop is for Manual VMs, or for a Halted one whose shutdown it shortens.
 */
export function requestApplies(action: StateChangeRequest['action'], strategy: RunStrategy): boolean {
  switch (action) {
    case 'Start':
      return strategy === 'Manual' || strategy === 'RerunOnFailure';
    case 'Stop':
      return strategy === 'Manual' || strategy === 'Halted';
    case 'Restart':
      return strategy !== 'Halted';
    default:
      return false;
  }
}

export interface RequestSelection {
  /** the request to act on now */
  head?: StateChangeRequest;
  /** ids of the requests before it that are done or moot (to remove from status) */
  drop: string[];
  /** requests after the head */
  more: number;
}

/** `honoured`: ids the agent has already carried out (its memory, and the domain's mark). */
export function selectRequest(requests: readonly StateChangeRequest[], strategy: RunStrategy, honoured: (id: string) => boolean): RequestSelection {
  const drop: string[] = [];
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    if (honoured(r.id) || !requestApplies(r.action, strategy)) {
      drop.push(r.id);
      continue;
    }
    return { head: r, drop, more: requests.length - i - 1 };
  }
  return { drop, more: 0 };
}
