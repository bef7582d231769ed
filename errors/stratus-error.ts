// Base of every typed error: a stable `code`, an HTTP `status` and the Kubernetes Status `reason`.
// One Koa middleware (api/middleware/errors.ts) turns these into Status objects; match on `code`.

import type { ErrorCode } from './codes';

export interface StatusCause {
  field?: string;
  reason?: string;
  message: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export abstract class StratusError extends Error {
  abstract readonly code: string;
  /** HTTP status code */
  abstract readonly status: number;
  /** Kubernetes metav1.StatusReason */
  abstract readonly reason: string;
  /** whether the message may be shown to API clients */
  readonly expose: boolean = true;
  details?: StatusDetails;

  constructor(message: string, details?: StatusDetails) {
    super(message);
    this.details = details;
  }
}

/** True when `err` is a StratusError, also across jest realms where instanceof fails. */
export function isStratusError(err: unknown): err is StratusError {
  return typeof err === 'object' && err !== null && typeof (err as StratusError).code === 'string'
    && typeof (err as StratusError).status === 'number' && typeof (err as StratusError).reason === 'string';
}

/**
 * True when `err` carries the stable `code` (an ErrorCode): any error object with that code, a
 * StratusError or another layer's (TerminalError, a CLI error), also across jest realms.
 */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
