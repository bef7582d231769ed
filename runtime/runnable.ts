// The lifecycle contract of every long-running part (STYLE 9): start(signal) runs until the signal
// aborts and then resolves; constructors do no I/O and start no timers. Plus small helpers.

/** A long-running part of a process, run by the Manager. */
export interface Runnable {
  readonly name?: string;
  /** runs until `signal` aborts, then resolves once stopped; rejects on a fatal error */
  start(signal: AbortSignal): Promise<void>;
  /** why the part cannot serve right now (reported by /readyz), or undefined when it can */
  notReady?(): string | undefined;
}

/** Resolves when `signal` aborts (at once if it already has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * A runnable that holds a resource: nothing to do while running, `close` once stopped (e.g. the
 * Cassandra client, which must be shut down after every part that uses it has stopped: add it
 * first, it stops last).
 */
export function closer(name: string, close: () => Promise<unknown> | void): Runnable {
  return {
    name,
    async start(signal: AbortSignal): Promise<void> {
      await untilAborted(signal);
      await close();
    },
  };
}

/** A one-way gate of a start-up sequence ("libvirt connected", "the lease is held"): opened once, awaited abortably. */
export class Latch {
  private opened = false;
  private waiters: (() => void)[] = [];

  get isOpen(): boolean {
    return this.opened;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves true once open, false if `signal` aborts first. */
  wait(signal: AbortSignal): Promise<boolean> {
    if (this.opened) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }
}
