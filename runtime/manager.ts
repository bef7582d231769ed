// The one runner of a process (STYLE 9): named runnables started one after the other in the order
// added (each optionally after a start-up step, e.g. "the lease is held"), and, when the signal
// aborts or any runnable fails, stopped in two phases: first every started runnable that can
// drain (stop taking new work, finish what is in flight: an HTTP server, a controller) drains,
// all at once; then they are stopped one by one in reverse order, each awaited up to
// stopTimeoutMs. Reports readiness for /readyz (with the reason a start-up step gives while it
// waits). A Manager is itself a Runnable.

import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from './clock';
import type { Runnable } from './runnable';

export interface ManagerOptions {
  logger: Logger;
  /** names the manager when it runs inside another one */
  name?: string;
  /** how long to wait for one runnable to stop; default 30 000 ms */
  stopTimeoutMs?: number;
  clock?: Clock;
}

export interface AddOptions {
  name?: string;
  /**
   * a start-up step awaited (in order) before this runnable starts, e.g. "connected" or "synced";
   * false, or the manager stopping meanwhile, ends the start-up: nothing after it starts. It may
   * `report` why it is still waiting (e.g. "waiting for Cassandra: ..."): notReady() says so.
   */
  after?: (signal: AbortSignal, report: (why: string | undefined) => void) => Promise<boolean | void>;
}

/**
 * A runnable with a first stopping phase: drain() stops taking new work and resolves once the work
 * in flight is done (or its own grace period ran out). The manager calls it on every started
 * runnable before it stops any of them, so e.g. an HTTP server finishes its requests while the
 * parts they use (the store, the audit log) still run.
 */
export interface Drainable {
  drain(): Promise<void>;
}

function canDrain(r: Runnable): r is Runnable & Drainable {
  return typeof (r as Partial<Drainable>).drain === 'function';
}

interface Entry {
  name: string;
  r: Runnable;
  after?: AddOptions['after'];
}

export class Manager implements Runnable {
  readonly name?: string;
  private readonly entries: Entry[] = [];
  private startedCount = 0;
  private allStarted = false;
  private stopped = false;
  /** what the start-up step in progress last reported */
  private waitingFor?: string;
  private resolveStarted!: () => void;
  /** resolves once every runnable has started (never, if the manager stopped first) */
  readonly started = new Promise<void>((resolve) => (this.resolveStarted = resolve));

  constructor(private readonly o: ManagerOptions) {
    this.name = o.name;
  }

  /** Adds a runnable, started after those added before it. `opts` may be just its name. */
  add(r: Runnable, opts?: string | AddOptions): this {
    const o = typeof opts === 'string' ? { name: opts } : opts ?? {};
    this.entries.push({ name: o.name ?? r.name ?? `runnable-${this.entries.length}`, r, after: o.after });
    return this;
  }

  /** The names of the runnables, in start order. */
  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  /** 'starting' until every runnable started, 'stopping' once stopping; else the first runnable's reason, if any. */
  notReady(): string | undefined {
    if (this.stopped) return 'stopping';
    for (const e of this.entries.slice(0, this.startedCount)) {
      const why = e.r.notReady?.();
      if (why) return `${e.name}: ${why}`;
    }
    if (!this.allStarted) {
      const next = this.entries[this.startedCount];
      if (!next) return 'starting';
      return this.waitingFor ? `starting: ${this.waitingFor}` : `starting (waiting for ${next.name})`;
    }
    return undefined;
  }

  /** Resolves once everything stopped after `signal` aborted; rejects with the first failure. */
  async start(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    const clock = this.o.clock ?? systemClock;
    const running: { name: string; r: Runnable; ac: AbortController; done: Promise<void> }[] = [];
    let firstError: unknown;
    // Aborted when the manager stops: by `signal`, or because a runnable failed or returned.
    const stopping = new AbortController();
    const stop = () => stopping.abort();
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    const fail = (name: string, err: unknown) => {
      log.error({ runnable: name, err: String(err) }, 'runnable failed');
      if (firstError === undefined) firstError = err;
      stop();
    };

    for (const { name, r, after } of this.entries) {
      if (stopping.signal.aborted) break;
      if (after) {
        let go: boolean | void;
        try {
          go = await after(stopping.signal, (why) => (this.waitingFor = why));
        } catch (err) {
          // A step cut short by the stop (a retry loop told to give up) is not a failure.
          if (!stopping.signal.aborted) fail(name, err);
          break;
        } finally {
          this.waitingFor = undefined;
        }
        if (go === false || stopping.signal.aborted) break;
      }
      const ac = new AbortController();
      setMaxListeners(64, ac.signal); // a controller's workers each wait on it
      const done = Promise.resolve()
        .then(() => r.start(ac.signal))
        .then(
          () => {
            if (!ac.signal.aborted) {
              log.warn({ runnable: name }, 'runnable returned before being stopped');
              stop();
            }
          },
          (err) => fail(name, err),
        );
      running.push({ name, r, ac, done });
      this.startedCount++;
    }
    if (!stopping.signal.aborted && this.startedCount === this.entries.length) {
      this.allStarted = true;
      this.resolveStarted();
    }

    await new Promise<void>((resolve) => (stopping.signal.aborted ? resolve() : stopping.signal.addEventListener('abort', () => resolve(), { once: true })));
    signal.removeEventListener('abort', stop);
    this.stopped = true;
    const timeout = this.o.stopTimeoutMs ?? 30_000;
    const bounded = async (name: string, what: string, p: Promise<void>) => {
      const timer = new AbortController();
      const timedOut = await Promise.race([p.then(() => false), sleep(clock, timeout, timer.signal).then(() => !timer.signal.aborted)]);
      timer.abort();
      if (timedOut) log.warn({ runnable: name, timeoutMs: timeout }, `runnable did not ${what} in time`);
    };
    await Promise.all(running.map(({ name, r }) => canDrain(r)
      ? bounded(name, 'drain', Promise.resolve().then(() => r.drain()).catch((err) => log.warn({ runnable: name, err: String(err) }, 'draining failed')))
      : undefined));
    for (const { name, ac, done } of running.reverse()) {
      ac.abort();
      await bounded(name, 'stop', done);
    }
    if (firstError !== undefined) throw firstError;
  }
}

/**
 * For a main: a signal that aborts on the first SIGINT or SIGTERM (then the manager stops
 * everything in reverse order). `onSignal` hears which one came.
 */
export function abortOnSignals(onSignal?: (signal: NodeJS.Signals) => void): AbortSignal {
  const ac = new AbortController();
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    process.once(s, () => {
      onSignal?.(s);
      ac.abort();
    });
  }
  return ac.signal;
}
