/**
 * LibvirtExecutor: runs blocking libvirt calls on a small pool of worker threads.
 * Owns: the worker threads, the call queue, and per-call error capture.
 *
 * Why not koffi's `.async`: libvirt keeps the last error in thread-local storage. With `.async`
 * the failing call and a later virGetLastError run as separate jobs, often on different
 * threads; measured here, 0 of 200 errors came back right even one call at a time, and
 * virConnCopyLastError (per connection) was right for 1 of 200 concurrent failures. A worker
 * thread instead makes the call and reads its own thread's error in one synchronous step, so
 * every error belongs to its call (2,000 of 2,000 under concurrency).
 */
import { Worker } from 'node:worker_threads';
import { LIBVIRT_SPEC, type LibvirtFunctionName } from './ffi';
import { LibvirtError, errorCodeName, type LibvirtErrorCode, type VirErrorFields } from './errors';

/**
 * The worker's code, run with `eval` (so it needs no separate build output). It declares the
 * same functions as ffi.ts's `declare` from the same spec, then serves one call at a time:
 * reset the thread's last error, call, copy the thread's last error if there is one.
 */
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const spec = workerData.spec;
const lib = koffi.load(spec.library);
for (const name of spec.opaques) koffi.opaque(name);
for (const [name, fields] of Object.entries(spec.structs)) koffi.struct(name, fields);
for (const proto of spec.callbacks) koffi.proto(proto);
const fn = {};
for (const proto of spec.functions) fn[/([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(proto)[1]] = lib.func(proto);
parentPort.on('message', (job) => {
  const f = fn[job.fn];
  let result = null;
  let thrown = null;
  fn.virResetLastError();
  try {
    if (!f) throw new Error('unknown libvirt function ' + job.fn);
    result = f(...job.args);
  } catch (err) {
    thrown = err instanceof Error ? err.message : String(err);
  }
  const ptr = fn.virGetLastError();
  let error = null;
  if (ptr !== null) {
    const e = koffi.decode(ptr, 'virError');
    error = { code: e.code, domain: e.domain, message: e.message, level: e.level,
      str1: e.str1, str2: e.str2, str3: e.str3, int1: e.int1, int2: e.int2 };
  }
  const outs = job.outs ? job.outs.map((i) => job.args[i]) : null;
  parentPort.postMessage({ result, error, thrown, outs });
});
`;

export interface LibvirtExecutorOptions {
  /** Worker threads, i.e. libvirt calls that may block at the same time. Default 4. */
  threads?: number;
  /**
   * Calls handed to one worker at once (default 3). A worker runs them one after another without
   * waiting for the main thread between calls, which on a busy main thread is most of a short
   * call's cost. Only queued behind a call that has been out for less than `pipelineWindowMs`
   * (default 5 ms), so a call that blocks (a guest booting, a volume being copied) holds up at
   * most the few queued behind it before the pool stops adding to that worker. 1 disables it.
   */
  depth?: number;
  pipelineWindowMs?: number;
}

/** What a call gave back; `error` is the calling thread's libvirt error, if it set one. */
export interface CallResult {
  result: unknown;
  error: VirErrorFields | null;
  /** Out-arguments after the call, in the order of `outs` (koffi fills objects and arrays). */
  outs: unknown[];
}

export interface CallOptions {
  /** Indexes of `args` that are out-parameters (objects/arrays koffi fills); returned in `outs`. */
  outs?: number[];
  /**
   * Kept strongly reachable until the call ends, so that a FinalizationRegistry cannot free the
   * libvirt object whose pointer is in `args` while a worker is still using it.
   */
  keepAlive?: object;
}

interface Job {
  fn: LibvirtFunctionName;
  args: unknown[];
  outs: number[] | undefined;
  keepAlive: object | undefined;
  resolve: (r: CallResult) => void;
  reject: (e: Error) => void;
}

interface WorkerMessage {
  result: unknown;
  error: VirErrorFields | null;
  thrown: string | null;
  outs: unknown[] | null;
}

interface Slot {
  worker: Worker;
  /** calls posted to this worker, oldest (running) first */
  jobs: Job[];
  /** when the oldest call was posted (or became the oldest) */
  since: number;
}

/**
 * A pool of worker threads for libvirt calls. Constructing it starts nothing; workers start on
 * demand, are unref'd while idle (an idle pool does not keep the process alive) and stop on
 * close(). Calls beyond `threads` wait in a FIFO queue.
 */
export class LibvirtExecutor {
  private readonly threads: number;
  private readonly depth: number;
  private readonly window: number;
  private readonly slots: Slot[] = [];
  /** jobs not yet handed to a worker, from queueHead on (slots before it are cleared) */
  private queue: (Job | undefined)[] = [];
  private queueHead = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  /** calls made, by libvirt function (for metrics and benchmarks) */
  readonly callCounts = new Map<LibvirtFunctionName, number>();
  /**
   * calls that left a libvirt error, by function and error code (for metrics). Look-ups that
   * found nothing count too (VIR_ERR_NO_DOMAIN...): the code tells them apart.
   */
  readonly errorCounts = new Map<LibvirtFunctionName, Map<LibvirtErrorCode, number>>();

  constructor(options: LibvirtExecutorOptions = {}) {
    this.threads = Math.max(1, options.threads ?? 4);
    this.depth = Math.max(1, options.depth ?? 3);
    this.window = options.pipelineWindowMs ?? 5;
  }

  /** Calls a libvirt function on a worker thread. Rejects only if the call could not be made. */
  call(fn: LibvirtFunctionName, args: unknown[], options: CallOptions = {}): Promise<CallResult> {
    if (this.closed) return Promise.reject(new Error('LibvirtExecutor is closed'));
    this.callCounts.set(fn, (this.callCounts.get(fn) ?? 0) + 1);
    return new Promise<CallResult>((resolve, reject) => {
      this.queue.push({ fn, args, outs: options.outs, keepAlive: options.keepAlive, resolve, reject });
      this.dispatch();
    });
  }

  /** Jobs waiting for a free thread plus jobs running. */
  get pending(): number {
    return this.queue.length - this.queueHead + this.slots.reduce((n, s) => n + s.jobs.length, 0);
  }

  /** Lets queued and running calls finish, then stops the workers. New calls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** A worker to post the next call to: an idle one, a new one, or a busy one that is moving. */
  private pick(now: number): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.jobs.length === 0) return s;
      if (s.jobs.length < this.depth && now - s.since < this.window && (!best || s.jobs.length < best.jobs.length)) best = s;
    }
    if (this.slots.length < this.threads) return this.spawn();
    return best;
  }

  private dispatch(): void {
    const now = performance.now();
    while (this.queueHead < this.queue.length) {
      const slot = this.pick(now);
      if (!slot) return;
      const job = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined; // let the job be collected once done
      if (!job) continue;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (slot.jobs.length === 0) {
        slot.since = now;
        slot.worker.ref();
      }
      slot.jobs.push(job);
      slot.worker.postMessage({ fn: job.fn, args: job.args, outs: job.outs ?? null });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { koffiPath: require.resolve('koffi'), spec: LIBVIRT_SPEC },
    });
    const slot: Slot = { worker, jobs: [], since: 0 };
    worker.on('message', (msg: WorkerMessage) => this.finish(slot, msg));
    worker.on('error', (err) => this.lose(slot, err));
    worker.on('exit', (code) => this.lose(slot, new Error(`libvirt worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private finish(slot: Slot, msg: WorkerMessage): void {
    const job = slot.jobs.shift();
    slot.since = performance.now();
    if (job) {
      if (msg.error !== null) this.countError(job.fn, msg.error.code);
      if (msg.thrown !== null) job.reject(new TypeError(`${job.fn}: ${msg.thrown}`));
      else job.resolve({ result: msg.result, error: msg.error, outs: msg.outs ?? [] });
    }
    this.dispatch();
    if (slot.jobs.length === 0) slot.worker.unref();
    this.notifyIdle();
  }

  private countError(fn: LibvirtFunctionName, code: number): void {
    let byCode = this.errorCounts.get(fn);
    if (!byCode) this.errorCounts.set(fn, (byCode = new Map()));
    const name = errorCodeName(code);
    byCode.set(name, (byCode.get(name) ?? 0) + 1);
  }

  /** A worker died (it should not): fail its call, forget it, and let another take over. */
  private lose(slot: Slot, err: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    for (const job of slot.jobs.splice(0)) job.reject(err);
    if (!this.closed) this.dispatch();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.pending > 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** Fails with the call's LibvirtError unless `ok` holds for its result. */
export function check(fn: LibvirtFunctionName, r: CallResult, ok: boolean): void {
  if (ok) return;
  // libvirt always sets an error on failure; this is the text it uses when it has none.
  throw r.error ? new LibvirtError(fn, r.error) : LibvirtError.local(fn, 'VIR_ERR_INTERNAL_ERROR', 'An error occurred, but the cause is unknown');
}
