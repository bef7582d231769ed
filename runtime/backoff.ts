// Retrying a start-up step (connecting to Cassandra, reading the schema version, creating a
// well-known row) with capped exponential backoff, so that a process meeting a transient error
// at start waits and says why instead of dying. Each failure is logged once, with the delay.

import type { Logger } from 'pino';

export interface RetryOptions {
  /** what is being tried, for the log and the readiness reason, e.g. "connecting to Cassandra" */
  what: string;
  logger?: Logger;
  /** stops retrying: the promise rejects with an AbortedError */
  signal?: AbortSignal;
  /** first delay; default 200 ms */
  initialMs?: number;
  /** delay cap; default 2000 ms */
  maxMs?: number;
  /** give up after this long (rejecting with the last error); default: never */
  timeoutMs?: number;
  /** an error this returns false for is not retried (rethrown at once); default: every error is retried */
  retryable?: (err: unknown) => boolean;
  /** hears each failure before the wait (e.g. to report "not ready: <why>") */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** injectable for tests; default: a real (ref'd, so the process waits for it) abortable timer */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** Thrown by retryWithBackoff when its signal aborts. */
export class AbortedError extends Error {
  readonly code = 'Aborted';
  constructor(what: string) {
    super(`${what}: stopped`);
    this.name = 'AbortedError';
  }
}

/** A readable one-line reason of an error (the driver's "no host answered" carries the causes per host in `innerErrors`). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = (err as { innerErrors?: Record<string, unknown> }).innerErrors;
  const causes = inner ? Object.entries(inner).map(([host, e]) => `${host}: ${e instanceof Error ? e.message : String(e)}`) : [];
  if (causes.length > 0) return `no Cassandra host answered (${causes.join('; ')})`;
  return err.message.replace(/\s+/g, ' ').trim();
}

/**
 * A timer that keeps the process alive while it runs (the runtime's clock unrefs its timers; a
 * process whose only work is waiting to retry must not exit meanwhile). Resolves early on abort.
 */
export function refSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The delay before retry number `attempt` (0-based): doubling from initialMs up to maxMs, with ±20 % jitter. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  // Jitter spreads the retries of many processes restarted at once (a whole cluster coming back).
  return Math.round(Math.min(maxMs, base * (0.8 + 0.4 * random())));
}

/** Runs `fn` until it resolves, waiting with backoff after each failure. */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const sleep = o.sleep ?? refSleep;
  const now = o.now ?? Date.now;
  const initial = o.initialMs ?? 200;
  const max = o.maxMs ?? 2000;
  const deadline = o.timeoutMs === undefined ? Infinity : now() + o.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (o.signal?.aborted) throw new AbortedError(o.what);
    try {
      return await fn(attempt);
    } catch (err) {
      if (o.signal?.aborted) throw new AbortedError(o.what);
      if (o.retryable && !o.retryable(err)) throw err;
      const left = deadline - now();
      if (left <= 0) throw err;
      const delay = Math.min(backoffDelay(attempt, initial, max), left);
      o.logger?.warn({ err: errorText(err), attempt: attempt + 1, retryInMs: delay }, `${o.what} failed; retrying`);
      o.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, o.signal);
    }
  }
}
