// A reconcile error that retrying cannot fix (bad input, an impossible request): the controller
// logs it and forgets the key instead of backing off. Report it in status before throwing it.

import { ErrorCode, hasCode } from '../errors';

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  readonly code = ErrorCode.Terminal;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Matches on `code`, so it also works across jest realms where instanceof fails. */
export function isTerminalError(err: unknown): err is TerminalError {
  return hasCode(err, ErrorCode.Terminal);
}
