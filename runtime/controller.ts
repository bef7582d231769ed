// A controller: N workers reconciling keys from one WorkQueue that informers feed.
// Contract (STYLE 1-3): reconcile(key) -> { requeueAfterMs? }. A thrown error retries the key with
// per-key backoff; a TerminalError is logged and the key forgotten. Every key the watched
// informers hold is re-queued on a resync period, so a missed event is repaired. Each reconcile
// gets a child logger carrying the controller, the key and a reconcile id.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { systemClock, sleep, type Clock } from './clock';
import type { CachedObject, Informer } from './informer';
import { ErrorCode, hasCode } from '../errors';
import { objectKey } from '../kube/keys';
import type { StoredObject } from '../kube/types';
import type { ControllerMetrics } from './metrics';
import { isTerminalError } from './terminal-error';
import { WorkQueue, type WorkQueueOptions } from './work-queue';

export interface ReconcileResult {
  /** reconcile this key again after this many ms (level-triggered timers: lease expiry, retries) */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  logger: Logger;
  reconcileId: string;
  /** aborted when the controller stops */
  signal: AbortSignal;
  /** how many times this key failed in a row before this attempt */
  attempt: number;
}

export interface Reconciler<K extends string = string> {
  reconcile(key: K, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

/** Maps a changed object to the keys to reconcile (default: the object's own key). */
export type KeyMapper<K extends string, T extends StoredObject = StoredObject> = (obj: CachedObject<T>) => K | K[] | undefined;

export interface ControllerOptions<K extends string = string> {
  name: string;
  reconciler: Reconciler<K> | Reconciler<K>['reconcile'];
  /** concurrent reconciles (never of the same key); default 1 */
  workers?: number;
  logger: Logger;
  clock?: Clock;
  /** work queue tuning (backoff, overall rate limit) */
  queue?: Omit<WorkQueueOptions, 'clock' | 'name'>;
  /** re-queue every key of the watched informers this often; default 300 000 ms; 0 = never */
  resyncPeriodMs?: number;
  metrics?: ControllerMetrics;
}

/** A watched informer, as start() and the resync loop use it. */
interface Source {
  waitForSync(signal: AbortSignal): Promise<boolean>;
  /** enqueues the keys of every cached object */
  resync(): void;
}

export class Controller<K extends string = string> {
  readonly name: string;
  readonly queue: WorkQueue<K>;
  private readonly o: ControllerOptions<K>;
  private readonly clock: Clock;
  private readonly reconcileFn: Reconciler<K>['reconcile'];
  private readonly sources: Source[] = [];

  constructor(o: ControllerOptions<K>) {
    this.o = o;
    this.name = o.name;
    this.clock = o.clock ?? systemClock;
    this.queue = new WorkQueue<K>({ ...o.queue, name: o.name, clock: this.clock });
    const r = o.reconciler;
    this.reconcileFn = typeof r === 'function' ? r : r.reconcile.bind(r);
  }

  /**
   * Enqueues keys for every add, update and delete of `informer`'s objects (mapped by `map`,
   * default the object's own key), and on resync. Call before start().
   */
  watch<T extends StoredObject>(informer: Informer<T>, map?: KeyMapper<K, T>): this {
    const m: KeyMapper<K, T> = map ?? ((o) => objectKey(o) as K);
    const enqueue = (obj: CachedObject<T>) => this.enqueueMapped(m, obj);
    this.sources.push({
      waitForSync: (signal) => informer.waitForSync(signal),
      resync: () => {
        for (const obj of informer.list()) enqueue(obj);
      },
    });
    informer.addHandlers({
      onAdd: (_k, o) => enqueue(o),
      onUpdate: (_k, oldObj, newObj) => {
        enqueue(oldObj);
        enqueue(newObj);
      },
      onDelete: (_k, o) => enqueue(o),
    });
    return this;
  }

  enqueue(key: K): void {
    this.queue.add(key);
  }

  enqueueAfter(key: K, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /**
   * The first stopping phase (runtime/manager.ts Drainable): take no new key and let the
   * reconciles in flight finish while their signal is still live, so a stopping replica leaves
   * no half-done work behind (the next replica would redo it, but a bind half-written is noise).
   */
  async drain(): Promise<void> {
    this.queue.shutDown();
    await this.queue.drained();
  }

  /** Waits for the watched informers to sync, runs the workers until `signal` aborts, then drains. */
  async start(signal: AbortSignal): Promise<void> {
    const log = this.o.logger.child({ controller: this.name });
    for (const s of this.sources) {
      if (!(await s.waitForSync(signal))) break;
    }
    if (signal.aborted) {
      this.queue.shutDown();
      return;
    }
    log.info({ workers: this.o.workers ?? 1 }, 'controller started');
    const onAbort = () => this.queue.shutDown();
    signal.addEventListener('abort', onAbort, { once: true });
    const workers = Array.from({ length: Math.max(1, this.o.workers ?? 1) }, () => this.worker(signal, log));
    const resync = this.resyncLoop(signal);
    await Promise.all([...workers, resync]);
    await this.queue.drained();
    log.info('controller stopped');
  }

  private enqueueMapped<T extends StoredObject>(map: KeyMapper<K, T>, obj: CachedObject<T>): void {
    let keys: K | K[] | undefined;
    try {
      keys = map(obj);
    } catch (err) {
      this.o.logger.error({ controller: this.name, err: String(err) }, 'key mapper threw');
      return;
    }
    if (keys === undefined) return;
    for (const k of Array.isArray(keys) ? keys : [keys]) this.queue.add(k);
  }

  private async resyncLoop(signal: AbortSignal): Promise<void> {
    const period = this.o.resyncPeriodMs ?? 300_000;
    if (period <= 0) return;
    while (!signal.aborted) {
      await sleep(this.clock, period, signal);
      if (signal.aborted) return;
      for (const s of this.sources) s.resync();
    }
  }

  private async worker(signal: AbortSignal, log: Logger): Promise<void> {
    const m = this.o.metrics;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      m?.depth.set({ controller: this.name }, this.queue.len());
      m?.inFlight.inc({ controller: this.name });
      const reconcileId = randomBytes(6).toString('hex');
      const logger = log.child({ key, reconcileId });
      const attempt = this.queue.numRequeues(key);
      const started = this.clock.now();
      let result = 'success';
      try {
        const r = await this.reconcileFn(key, { logger, reconcileId, signal, attempt });
        this.queue.forget(key);
        if (r && r.requeueAfterMs !== undefined && r.requeueAfterMs >= 0) {
          result = 'requeue';
          this.queue.addAfter(key, r.requeueAfterMs);
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (isTerminalError(err)) {
          result = 'terminal';
          this.queue.forget(key);
          logger.error({ err: String(err) }, 'reconcile failed; not retrying');
        } else {
          result = hasCode(err, ErrorCode.Conflict) ? 'conflict' : 'error';
          this.queue.addRateLimited(key);
          const lvl = hasCode(err, ErrorCode.Conflict) || attempt < 3 ? 'debug' : 'warn';
          logger[lvl]({ err: String(err), code, attempt }, 'reconcile failed; retrying with backoff');
        }
      } finally {
        this.queue.done(key);
        m?.inFlight.dec({ controller: this.name });
        m?.reconciles.inc({ controller: this.name, result });
        m?.duration.observe({ controller: this.name }, (this.clock.now() - started) / 1000);
      }
    }
  }
}
