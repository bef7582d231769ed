/**
 * The audit log's table (store migration 4): audit_log ((hour, shard), ts DESC), one row per
 * mutating request, TTL'd. Partitioned by hour and a small shard number, so no partition takes
 * every write and a time range is read partition by partition, newest first. What to record and
 * when (off the request's path, bounded backlog) is api/auth/audit-log.ts.
 */
import { types, type Client } from 'cassandra-driver';
import { rowsOf } from './paging';

export const AUDIT_SHARDS = 4;
const HOUR = 3_600_000;
/** rows a query reads at most, whatever it matches */
const MAX_SCANNED = 200_000;

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

export interface AuditRange {
  /** ms since the epoch */
  since: number;
  until: number;
  user?: string;
  namespace?: string;
  /** newest first, at most this many */
  limit: number;
}

export interface AuditRepositoryOptions {
  client: Client;
  keyspace: string;
  /** random source picking a record's shard; default Math.random */
  random?: () => number;
}

export class AuditRepository {
  constructor(private readonly o: AuditRepositoryOptions) {}

  /** Writes one record (at `at` ms), kept for `ttlSec`. */
  async insert(r: Omit<AuditRecord, 'time'>, at: number, ttlSec: number): Promise<void> {
    await this.o.client.execute(
      `INSERT INTO ${this.o.keyspace}.audit_log (hour, shard, ts, request_id, user, groups, authenticator, verb, resource, namespace, name,
         subresource, code, reason, dry_run, source_ip, user_agent, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      [
        types.Long.fromNumber(Math.floor(at / HOUR)), Math.floor((this.o.random ?? Math.random)() * AUDIT_SHARDS), types.TimeUuid.fromDate(new Date(at)),
        r.requestId, r.user, r.groups, r.authenticator ?? null, r.verb, r.resource, r.namespace ?? null, r.name ?? null,
        r.subresource ?? null, r.code, r.reason ?? null, r.dryRun, r.sourceIp ?? null, r.userAgent?.slice(0, 256) ?? null,
        Math.round(r.latencyMs), Math.floor(ttlSec),
      ],
    );
  }

  /** Records in a time range, newest first, optionally of one user or namespace. */
  async query(q: AuditRange): Promise<AuditRecord[]> {
    const { since, until, limit } = q;
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
          if (scanned > MAX_SCANNED) break;
        }
      }));
      perHour.sort((a, b) => b.key - a.key);
      out.push(...perHour.slice(0, limit - out.length).map((x) => x.r));
      if (scanned > MAX_SCANNED) break;
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
