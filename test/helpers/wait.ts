// Polling for an observable outcome in tests that drive real processes.

/** Polls `fn` every 50 ms until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** until() without a description, for files that poll many short conditions (default 30 s). */
export function poll<T>(fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000): Promise<T> {
  return until('a condition', fn, timeoutMs);
}
