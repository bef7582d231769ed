// Kubernetes Status objects: the body of every error and of some successes.

import { isStratusError, type StatusDetails } from '../errors';
import { GROUP } from '../schemas/kinds';
import type { Status } from '../kube/wire';

export type { Status };

export function failureStatus(code: number, reason: string, message: string, details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

export function successStatus(details?: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details, code: 200 };
}

/** Turns any thrown value into a Status; unexpected errors never leak their message. */
export function statusFromError(err: unknown): Status {
  if (isStratusError(err)) {
    if (!err.expose) return failureStatus(err.status, err.reason, 'an internal error occurred; it has been logged');
    const details = err.details ? { group: err.details.kind ? GROUP : undefined, ...err.details } : undefined;
    return failureStatus(err.status, err.reason, err.message, details);
  }
  return failureStatus(500, 'InternalError', 'an internal error occurred; it has been logged');
}
