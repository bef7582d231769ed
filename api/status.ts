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
  // A library's HTTP error about the request (http-errors' shape: a 4xx status, expose true) stays a 4xx.
  const lib = err as { status?: unknown; expose?: unknown; message?: unknown } | null;
  if (lib && typeof lib.status === 'number' && lib.status >= 400 && lib.status < 500 && lib.expose === true && typeof lib.message === 'string') {
    return failureStatus(lib.status, LIBRARY_REASONS[lib.status] ?? 'BadRequest', lib.message);
  }
  return failureStatus(500, 'InternalError', 'an internal error occurred; it has been logged');
}

/** Kubernetes' StatusReason of the 4xx codes libraries use. */
const LIBRARY_REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 406: 'NotAcceptable',
  409: 'Conflict', 410: 'Gone', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests',
};
