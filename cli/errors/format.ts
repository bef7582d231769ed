// Turns any error into the line(s) the CLI prints, kubectl-style, and its exit code. Never a stack trace.

import { isApiError, type ApiError } from './api-error';
import { isCliError } from './cli-error';

function withErrorPrefix(msg: string): string {
  return msg.startsWith('error: ') ? msg : `error: ${msg}`;
}

function formatApiError(err: ApiError): string {
  if (err.status === 401) {
    return `error: You must be logged in to the server (${err.message || 'Unauthorized'})`;
  }
  const d = err.details;
  if (err.reason === 'Invalid' && d) {
    let head = 'The request is invalid';
    if (d.kind || d.name) head = `The ${d.kind ?? ''} "${d.name ?? ''}" is invalid`;
    const causes = (d.causes ?? []).map((c) => (c.field ? `${c.field}: ${c.message ?? ''}` : c.message ?? ''));
    if (causes.length === 1) return withErrorPrefix(`${head}: ${causes[0]}`);
    if (causes.length > 1) return withErrorPrefix(`${head}: \n* ${causes.join('\n* ')}`);
    return withErrorPrefix(err.message || head);
  }
  return err.reason ? `Error from server (${err.reason}): ${err.message}` : `Error from server: ${err.message}`;
}

/** The text printed on stderr for an error (no trailing newline). */
export function formatError(err: unknown): string {
  if (isApiError(err)) return formatApiError(err);
  // duck-typed: errors from node's core come from another realm under jest
  if (err && typeof err === 'object' && typeof (err as Error).message === 'string') {
    const msg = (err as Error).message || (err as Error).name || 'unknown error';
    return withErrorPrefix(msg);
  }
  return withErrorPrefix(String(err));
}

/** The process exit code of an error: 2 for usage errors, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  if (isCliError(err)) return err.exitCode;
  return 1;
}
