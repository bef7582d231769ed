// The audit log: one record per mutating request (who, what, when, result), kept for a
// configurable time (TTL) in the store's audit table (store/audit.ts). Records are written off
// the request's path; a failure to write is logged and counted, never fails the request.

import type { Logger } from 'pino';
import type { AuditRecord, AuditRepository } from '../../store/audit';
import { systemClock, type Clock } from '../../runtime';

export { AUDIT_SHARDS, type AuditRecord } from '../../store/audit';

const HOUR = 3_600_000;

export interface AuditQuery {
  /** ms since the epoch; default one day before `until` */
  since?: number;
  /** ms since the epoch; default now */
  until?: number;
  user?: string;
  namespace?: string;
  /** newest first, at most this many; default 100, at most 10,000 */
  limit?: number;
}

export interface AuditLogOptions {
  /** the audit table */
  repository: AuditRepository;
  /** how long records are kept; 0 disables the audit log */
  ttlSec: number;
  logger?: Logger;
  clock?: Clock;
  /** writes in flight at most; more are dropped (and logged); default 1000 */
  maxInFlight?: number;
  /** counts records that could not be written */
  onDropped?: () => void;
}

export class AuditLog {
  private readonly clock: Clock;
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly o: AuditLogOptions) {
    this.clock = o.clock ?? systemClock;
  }

  get enabled(): boolean {
    return this.o.ttlSec > 0;
  }

  /** Writes a record in the background. */
  record(r: Omit<AuditRecord, 'time'> & { time?: number }): void {
    if (!this.enabled) return;
    if (this.inFlight.size >= (this.o.maxInFlight ?? 1000)) {
      this.o.onDropped?.();
      this.o.logger?.warn({ audit: { ...r, groups: undefined } }, 'audit log backlog full; record dropped');
      return;
    }
    const p = this.o.repository.insert(r, r.time ?? this.clock.now(), this.o.ttlSec).catch((err) => {
      this.o.onDropped?.();
      this.o.logger?.error({ err: String(err), requestId: r.requestId }, 'could not write an audit record');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Waits for the records being written (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Records in a time range, newest first, optionally of one user or namespace. */
  async query(q: AuditQuery = {}): Promise<AuditRecord[]> {
    const until = q.until ?? this.clock.now();
    const since = q.since ?? until - 24 * HOUR;
    const limit = Math.min(Math.max(1, q.limit ?? 100), 10_000);
    return this.o.repository.query({ since, until, limit, user: q.user, namespace: q.namespace });
  }
}
