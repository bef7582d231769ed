// Writes a project's usage into its status (status.usage, and phase Active or Terminating),
// shortly after the ledger's totals changed and after every reconcile, so `stratus get proj` and
// watchers see usage against quota.

import type { Logger } from 'pino';
import { jsonEqual } from '../../kube/equal';
import type { ObjectStore } from '../../store';
import { usageStatus } from './amounts';
import type { QuotaLedger } from './ledger';
import { ErrorCode, hasCode } from '../../errors';
import { systemClock, type Clock } from '../../runtime';

export interface UsageStatusWriterOptions {
  store: ObjectStore;
  ledger: QuotaLedger;
  logger?: Logger;
  /** how long changes are gathered before one write; default 300 ms */
  debounceMs?: number;
  clock?: Clock;
}

export class UsageStatusWriter {
  private readonly timers = new Map<string, unknown>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  private readonly clock: Clock;

  constructor(private readonly o: UsageStatusWriterOptions) {
    this.clock = o.clock ?? systemClock;
  }

  schedule(project: string): void {
    if (this.closed || this.timers.has(project)) return;
    this.timers.set(project, this.clock.setTimeout(() => {
      this.timers.delete(project);
      const p = this.write(project).catch((err) => this.o.logger?.warn({ err: String(err), project }, 'could not write project usage'));
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
    }, this.o.debounceMs ?? 300));
  }

  /** Writes the project's status.usage now (nothing when it is already right). */
  async write(project: string): Promise<void> {
    const totals = await this.o.ledger.totals(project);
    const usage = usageStatus(totals);
    await this.o.store.guaranteedUpdate({ kind: 'Project', namespace: '', name: project }, (cur) => {
      const phase = cur.metadata.deletionTimestamp ? 'Terminating' : 'Active';
      if (jsonEqual(cur.status?.['usage'], usage) && cur.status?.['phase'] === phase) return undefined;
      return { ...cur, status: { ...cur.status, phase, usage } };
    }, { status: true }).catch((err) => {
      if (!hasCode(err, ErrorCode.NotFound)) throw err;
    });
  }

  /** Writes what is scheduled now and waits for writes in flight. */
  async flush(): Promise<void> {
    const due = [...this.timers.keys()];
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.running, ...due.map((p) => this.write(p).catch(() => undefined))]);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
