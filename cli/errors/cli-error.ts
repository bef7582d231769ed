// Base class of every error the stratus CLI reports to its user: a readable message and an exit code.
// Match on `code`, not only `instanceof` (instanceof fails across jest realms).

import { ErrorCode } from '../../errors';

export class CliError extends Error {
  override name = 'CliError';
  readonly code: string = ErrorCode.CliError;
  /** the process exit code this error maps to: 1 for failures, 2 for usage errors */
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isCliError(err: unknown): err is CliError {
  return !!err && typeof err === 'object' && typeof (err as CliError).exitCode === 'number' && typeof (err as CliError).code === 'string';
}
