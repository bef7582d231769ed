// The audit log: one record per mutating request (who, what, when, result), kept in Cassandra
// for a configurable time (TTL). Partitioned by hour and a small shard number, so no partition
// takes every write and a time range is read partition by partition, newest first. Records are
// written off the request's path; a failure to write is logged and counted, never fails the request.

import { types, type Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import { rowsOf } from '../cql-paging';

export const AUDIT_SHARDS = 4;
const HOUR = 3_600_000;

export interface AuditRecord {
  /** ISO time of the request */
  time: string;
  requestId: string;
  user: string;
  groups: string[];
  authenticator?: string;
  /** Kubernetes verb (create, update, patch, delete, deletecollection) or the HTTP method */
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** HTTP status of the answer */
  code: number;
  reason?: string;
  dryRun: boolean;
  sourceIp?: string;
  userAgent?: string;
  latencyMs: number;
}

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
  client: Client;
  keyspace: string;
  /** how long records are kept; 0 disables the audit log */
  ttlSec: number;
  logger?: Logger;
  clock?: () => number;
  /** writes in flight at most; more are dropped (and logged); default 1000 */
  maxInFlight?: number;
  /** counts records that could not be written */
  onDropped?: () => void;
}

export class AuditLog {
  private readonly clock: () => number;
  private inFlight = new Set<Promise<unknown>>();

  constructor(private readonly o: AuditLogOptions) {
    this.clock = o.clock ?? Date.now;
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
    const at = r.time ?? this.clock();
    const p = this.o.client.execute(
      `INSERT INTO ${this.o.keyspace}.audit_log (hour, shard, ts, request_id, user, groups, authenticator, verb, resource, namespace, name,
         subresource, code, reason, dry_run, source_ip, user_agent, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      [
        types.Long.fromNumber(Math.floor(at / HOUR)), Math.floor(Math.random() * AUDIT_SHARDS), types.TimeUuid.fromDate(new Date(at)),
        r.requestId, r.user, r.groups, r.authenticator ?? null, r.verb, r.resource, r.namespace ?? null, r.name ?? null,
        r.subresource ?? null, r.code, r.reason ?? null, r.dryRun, r.sourceIp ?? null, r.userAgent?.slice(0, 256) ?? null,
        Math.round(r.latencyMs), Math.floor(this.o.ttlSec),
      ],
    ).catch((err) => {
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
    const until = q.until ?? this.clock();
    const since = q.since ?? until - 24 * HOUR;
    const limit = Math.min(Math.max(1, q.limit ?? 100), 10_000);
    const out: AuditRecord[] = [];
    const keep = (r: AuditRecord) => (!q.user || r.user === q.user) && (!q.namespace || r.namespace === q.namespace);
    let scanned = 0;
    for (let hour = Math.floor(until / HOUR); hour >= Math.floor(since / HOUR) && out.length < limit; hour--) {
      const perHour: { r: AuditRecord; key: number }[] = [];
      await Promise.all(Array.from({ length: AUDIT_SHARDS }, async (_, shard) => {
        let matched = 0;
        const rows = rowsOf(this.o.client,
          `SELECT * FROM ${this.o.keyspace}.audit_log WHERE hour = ? AND shard = ? AND ts >= minTimeuuid(?) AND ts <= maxTimeuuid(?)`,
          [types.Long.fromNumber(hour), shard, new Date(since), new Date(until)], { fetchSize: 500 },
        );
        for await (const row of rows) {
          scanned++;
          const r = recordOf(row);
          if (keep(r)) {
            const p = (row['ts'] as types.TimeUuid).getDatePrecision();
            perHour.push({ r, key: p.date.getTime() * 10_000 + (p.ticks ?? 0) });
            if (++matched >= limit - out.length) break;
          }
          if (scanned > 200_000) break;
        }
      }));
      perHour.sort((a, b) => b.key - a.key);
      out.push(...perHour.slice(0, limit - out.length).map((x) => x.r));
      if (scanned > 200_000) break;
    }
    return out;
  }
}

function recordOf(row: types.Row): AuditRecord {
  const ts = row['ts'] as types.TimeUuid;
  return {
    time: ts.getDate().toISOString(),
    requestId: row['request_id'] ?? '',
    user: row['user'] ?? '',
    groups: (row['groups'] as string[] | null) ?? [],
    authenticator: row['authenticator'] ?? undefined,
    verb: row['verb'] ?? '',
    resource: row['resource'] ?? '',
    namespace: row['namespace'] ?? undefined,
    name: row['name'] ?? undefined,
    subresource: row['subresource'] ?? undefined,
    code: row['code'] ?? 0,
    reason: row['reason'] ?? undefined,
    dryRun: !!row['dry_run'],
    sourceIp: row['source_ip'] ?? undefined,
    userAgent: row['user_agent'] ?? undefined,
    latencyMs: row['latency_ms'] ?? 0,
  };
}
