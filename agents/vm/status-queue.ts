/**
 * KeyedJobs: runs per-key jobs (status writes) off the reconcile path, at most `concurrency` at a
 * time, never two of one key at once, and only the newest job of a key (a newer status replaces
 * a pending one). So a slow database delays status, never libvirt work. A failed job is handed
 * to onError (the agent re-queues the key: the next reconcile recomputes and resubmits).
 */
export interface KeyedJobsOptions {
  /** jobs running at once; default 8 */
  concurrency?: number;
  onError?: (key: string, err: unknown) => void;
}

export class KeyedJobs {
  private readonly pending = new Map<string, () => Promise<void>>();
  private readonly running = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly limit: number;

  constructor(private readonly o: KeyedJobsOptions = {}) {
    this.limit = Math.max(1, o.concurrency ?? 8);
  }

  submit(key: string, job: () => Promise<void>): void {
    this.pending.set(key, job);
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
    for (const [key, job] of this.pending) {
      if (this.running.size >= this.limit) return;
      if (this.running.has(key)) continue;
      this.pending.delete(key);
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
