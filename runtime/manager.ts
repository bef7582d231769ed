// The runner of a process: starts runnables in the order added (informers first, then
// controllers), and when the signal aborts or any runnable fails, stops them one by one in the
// reverse order, waiting for each to return (bounded by stopTimeoutMs). STYLE 9.

import type { Logger } from 'pino';

export interface Runnable {
  readonly name?: string;
  /** runs until `signal` aborts, then resolves; rejects on a fatal error */
  start(signal: AbortSignal): Promise<void>;
}

export interface ManagerOptions {
  logger: Logger;
  /** how long to wait for one runnable to stop; default 30 000 ms */
  stopTimeoutMs?: number;
}

export class Manager {
  private readonly runnables: { name: string; r: Runnable }[] = [];

  constructor(private readonly o: ManagerOptions) {}

  add(r: Runnable, name?: string): this {
    this.runnables.push({ name: name ?? r.name ?? `runnable-${this.runnables.length}`, r });
    return this;
  }

  /** Resolves once everything stopped after `signal` aborted; rejects with the first failure. */
  async start(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    const running: { name: string; ac: AbortController; done: Promise<void> }[] = [];
    let firstError: unknown;
    let stopping!: () => void;
    const stop = new Promise<void>((resolve) => (stopping = resolve));
    if (signal.aborted) stopping();
    signal.addEventListener('abort', () => stopping(), { once: true });

    for (const { name, r } of this.runnables) {
      if (signal.aborted || firstError !== undefined) break;
      const ac = new AbortController();
      const done = Promise.resolve()
        .then(() => r.start(ac.signal))
        .then(
          () => {
            if (!ac.signal.aborted) {
              log.warn({ runnable: name }, 'runnable returned before being stopped');
              stopping();
            }
          },
          (err) => {
            log.error({ runnable: name, err: String(err) }, 'runnable failed');
            if (firstError === undefined) firstError = err;
            stopping();
          },
        );
      running.push({ name, ac, done });
    }

    await stop;
    const timeout = this.o.stopTimeoutMs ?? 30_000;
    for (const { name, ac, done } of running.reverse()) {
      ac.abort();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        done.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeout))),
      ]);
      clearTimeout(timer);
      if (timedOut) log.warn({ runnable: name, timeoutMs: timeout }, 'runnable did not stop in time');
    }
    if (firstError !== undefined) throw firstError;
  }
}
