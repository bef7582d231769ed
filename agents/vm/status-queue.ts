/**
 * KeyedJobs: runs per-key jobs (status writes) off the reconcile path, at most `concurrency` at a
 * time, never two of one key at once, and only the newest job of a key (a newer status replaces
 * a pending one). So a slow database delays status, never libvirt work. A failed job is handed
 * to onError (the agent re-queues the key: the next reconcile recomputes and resubmits).
 */
import { systemClock, type Clock } from '../../runtime';

export interface KeyedJobsOptions {
  /** jobs running at once; default 8 */
  concurrency?: number;
  onError?: (key: string, err: unknown) => void;
  /**
   * While this holds, queued jobs wait (up to `maxHoldMs`, default 2000) before starting: status
   * writes yield to pending libvirt work in a burst of bindings, instead of competing with it
   * for the CPU and the database. Jobs already running go on.
   */
  holdWhile?: () => boolean;
  maxHoldMs?: number;
  clock?: Clock;
}

export class KeyedJobs {
  private readonly pending = new Map<string, () => Promise<void>>();
  /** when the oldest pending job was submitted (undefined: none pending) */
  private oldestAt: number | undefined;
  private holdTimer: unknown;
  private readonly running = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly limit: number;
  private readonly clock: Clock;

  constructor(private readonly o: KeyedJobsOptions = {}) {
    this.limit = Math.max(1, o.concurrency ?? 8);
    this.clock = o.clock ?? systemClock;
  }

  submit(key: string, job: () => Promise<void>): void {
    this.pending.set(key, job);
    this.oldestAt ??= this.clock.now();
    this.pump();
  }

  /** Jobs waiting or running. */
  get size(): number {
    return this.pending.size + this.running.size;
  }

  /** Resolves when no job waits or runs. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    if (this.pending.size === 0) {
      this.oldestAt = undefined;
      return;
    }
    if (this.o.holdWhile?.() && this.clock.now() - (this.oldestAt ?? 0) < (this.o.maxHoldMs ?? 2000)) {
      this.holdTimer ??= this.clock.setTimeout(() => {
        this.holdTimer = undefined;
        this.pump();
      }, 20);
      return;
    }
    for (const [key, job] of this.pending) {
      if (this.running.size >= this.limit) return;
      if (this.running.has(key)) continue;
      this.pending.delete(key);
      if (this.pending.size === 0) this.oldestAt = undefined;
      this.running.add(key);
      job()
        .catch((err) => this.o.onError?.(key, err))
        .finally(() => {
          this.running.delete(key);
          this.pump();
          if (this.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }
}
