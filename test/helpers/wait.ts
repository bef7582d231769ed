// The one polling helper of the suite: wait for an observable outcome (of a real process, store or
// driver) with a description that names what was awaited when it times out.

type Maybe<T> = T | undefined | false | null;

export interface UntilOptions {
  /** fail after this long (default 10 s) */
  timeoutMs?: number;
  /** pause between two polls (default 50 ms) */
  everyMs?: number;
  /** more to say when it times out (e.g. the tail of a process's log) */
  context?: () => string;
}

/**
 * Polls `fn` (sync or async) until it returns a truthy value, which is returned, or fails after
 * the timeout with `what` and the last error `fn` threw. `opts` as a number is the timeout.
 */
export async function until<T>(what: string, fn: () => Maybe<T> | Promise<Maybe<T>>, opts: number | UntilOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, everyMs = 50, context } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
