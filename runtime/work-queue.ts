// The work queue of a controller: keys, never objects (client-go util/workqueue semantics).
// - A key added again before a worker took it is queued once (dirty set).
// - A key is never handed to two workers at once: added while in flight, it is queued again when
//   the worker calls done().
// - addRateLimited backs off per key (exponential, 5 ms doubling to 5 min by default) under an
//   overall token bucket; forget() resets a key's backoff; addAfter() delays an add.
// Constructors start no timers; all time goes through the injectable clock.

import { systemClock, type Clock } from './clock';
import { ExponentialBackoff, TokenBucket } from './rate-limiter';

export interface WorkQueueOptions {
  /** for logs and metrics */
  name?: string;
  /** default systemClock */
  clock?: Clock;
  /** delay of a key's first rate-limited retry; default 5 ms, doubling per failure */
  baseDelayMs?: number;
  /** cap of a key's backoff; default 300 000 ms (5 min) */
  maxDelayMs?: number;
  /** overall limit of rate-limited adds, tokens per second; default 10 (client-go's) */
  qps?: number;
  /** overall bucket size; default 100 */
  burst?: number;
  /**
   * fifo (default) or random: hand out a random waiting key, so several replicas working through
   * the same backlog rarely pick the same key at the same time (placement uses it)
   */
  order?: 'fifo' | 'random';
  /** random source for order: random; default Math.random */
  random?: () => number;
}

export class WorkQueue<K extends string = string> {
  readonly name: string;
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff<K>;
  private readonly bucket: TokenBucket;
  private queue: K[] = [];
  private head = 0;
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** pending addAfter timers: the earliest wins */
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private drainWaiters: (() => void)[] = [];
  private readonly random: boolean;
  private readonly rng: () => number;

  constructor(o: WorkQueueOptions = {}) {
    this.name = o.name ?? 'queue';
    this.clock = o.clock ?? systemClock;
    this.backoff = new ExponentialBackoff<K>({ baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs });
    this.bucket = new TokenBucket({ qps: o.qps, burst: o.burst, clock: this.clock });
    this.random = o.order === 'random';
    this.rng = o.random ?? Math.random;
  }

  /** Queues `key` unless it is already waiting; a key in flight is queued again after done(). */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
      return;
    }
    this.queue.push(key);
  }

  /** Adds `key` after `delayMs` (at once when <= 0). Of several pending delays the earliest wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + delayMs;
    const cur = this.delayed.get(key);
    if (cur && cur.at <= at) return;
    if (cur) this.clock.clearTimeout(cur.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, handle });
  }

  /** The delay addRateLimited would use now: max(per-key backoff, overall bucket). Counts a failure. */
  when(key: K): number {
    return Math.max(this.backoff.when(key), this.bucket.reserve());
  }

  /** Adds `key` after its backoff: call it when processing failed. */
  addRateLimited(key: K): void {
    if (this.shuttingDown) return;
    this.addAfter(key, this.when(key));
  }

  /** Resets `key`'s backoff: call it when processing succeeded. */
  forget(key: K): void {
    this.backoff.forget(key);
  }

  /** How many times `key` was rate-limited since it was last forgotten. */
  numRequeues(key: K): number {
    return this.backoff.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if the queue is empty; undefined once the queue is
   * shut down. The caller owns the key until it calls done(key).
   */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.head < this.queue.length) {
      if (this.random) {
        const j = this.head + Math.floor(this.rng() * (this.queue.length - this.head));
        [this.queue[this.head], this.queue[j]] = [this.queue[j], this.queue[this.head]];
      }
      const key = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
    if (this.processing.size === 0) {
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Keys waiting (not in flight, not delayed). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Keys being processed. */
  inFlight(): number {
    return this.processing.size;
  }

  /** Keys waiting for an addAfter delay. */
  delayedCount(): number {
    return this.delayed.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops handing out keys: waiting get() calls resolve undefined, pending delays are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Resolves when no key is in flight (e.g. after shutDown, to wait for workers to finish). */
  drained(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}
