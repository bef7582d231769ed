// A reconcile error that retrying cannot fix (bad input, an impossible request): the controller
// logs it and forgets the key instead of backing off. Report it in status before throwing it.

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
  readonly code = 'TERMINAL';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Matches on `code`, so it also works across jest realms where instanceof fails. */
export function isTerminalError(err: unknown): err is TerminalError {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'TERMINAL';
}
