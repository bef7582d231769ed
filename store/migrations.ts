// Versioned, idempotent schema migrations, applied by their own step (stratus-migrate,
// api/migrate-main.ts) before the components start; the components wait for the version they
// need (store/schema-wait.ts). Still safe when two runs meet: a lease taken by compare-and-set
// lets one apply them while the other waits. Every DDL statement must be agreed by all nodes
// before the next one runs (concurrent or unsettled DDL is how Cassandra schemas disagree).

import type { Client } from 'cassandra-driver';
import { types } from 'cassandra-driver';
import type { Logger } from 'pino';
import { sleep, systemClock } from '../runtime/clock';

export interface Migration {
  id: number;
  description: string;
  statements: (o: { feedRetentionSec: number }) => string[];
}

export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    description: 'objects, name index, change feed',
    statements: ({ feedRetentionSec }) => [
      // One partition per object: compare-and-set on one object never contends with another.
      `CREATE TABLE IF NOT EXISTS objects (
         kind text, namespace text, name text,
         uid text, rv timeuuid, body text,
         PRIMARY KEY ((kind, namespace, name)))`,
      // Listing: names per kind and namespace, paged by clustering order.
      `CREATE TABLE IF NOT EXISTS object_names (
         kind text, namespace text, name text,
         PRIMARY KEY ((kind, namespace), name))`,
      `CREATE TABLE IF NOT EXISTS object_namespaces (
         kind text, namespace text,
         PRIMARY KEY ((kind), namespace))`,
      // The change feed: partitioned by kind, time bucket and shard, ordered by timeuuid.
      `CREATE TABLE IF NOT EXISTS feed (
         kind text, bucket bigint, shard int, ts timeuuid,
         namespace text, name text, uid text, type text, body text, committed boolean,
         PRIMARY KEY ((kind, bucket, shard), ts))
       WITH CLUSTERING ORDER BY (ts ASC)
        AND default_time_to_live = ${feedRetentionSec}
        AND gc_grace_seconds = 3600
        AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', 'compaction_window_size': 30}`,
      // Settings shared by every process of the cluster (feed shards, bucket width).
      `CREATE TABLE IF NOT EXISTS settings (name text PRIMARY KEY, value text)`,
    ],
  },
  {
    id: 2,
    description: 'secondary index of selected fields (e.g. VirtualMachine status.host)',
    statements: () => [
      `CREATE TABLE IF NOT EXISTS field_index (
         kind text, field text, value text, namespace text, name text,
         PRIMARY KEY ((kind, field, value), namespace, name))`,
    ],
  },
  {
    id: 3,
    description: 'agents: host leases, monitoring samples (TTL), accounting per VM per project per hour',
    statements: () => [
      // One row per host, written only by compare-and-set (holder exclusivity); the heartbeat.
      `CREATE TABLE IF NOT EXISTS host_leases (
         host text PRIMARY KEY, holder text, renew_time timestamp, acquire_time timestamp,
         duration_ms int, transitions int)`,
      // Monitoring: per host and per VM, one partition per day, newest first; rows expire (TTL).
      `CREATE TABLE IF NOT EXISTS host_samples (
         host text, day int, ts timestamp,
         vms int, running int, cpus int, cpu_cores double, memory_bytes bigint, memory_used_bytes bigint,
         storage_bytes bigint, storage_used_bytes bigint,
         disk_read_bps double, disk_write_bps double, net_rx_bps double, net_tx_bps double,
         PRIMARY KEY ((host, day), ts))
       WITH CLUSTERING ORDER BY (ts DESC) AND default_time_to_live = 604800
        AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}`,
      `CREATE TABLE IF NOT EXISTS vm_samples (
         namespace text, name text, day int, ts timestamp,
         uid text, host text, state text, vcpus int, cpu_cores double, cpu_time_ns bigint, memory_bytes bigint,
         disk_read_bps double, disk_write_bps double, net_rx_bps double, net_tx_bps double,
         PRIMARY KEY ((namespace, name, day), ts))
       WITH CLUSTERING ORDER BY (ts DESC) AND default_time_to_live = 604800
        AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}`,
      // The latest sample of each host / of each VM of a project (for `stratus top`).
      `CREATE TABLE IF NOT EXISTS host_samples_latest (
         host text PRIMARY KEY, ts timestamp,
         vms int, running int, cpus int, cpu_cores double, memory_bytes bigint, memory_used_bytes bigint,
         storage_bytes bigint, storage_used_bytes bigint,
         disk_read_bps double, disk_write_bps double, net_rx_bps double, net_tx_bps double)
       WITH default_time_to_live = 3600`,
      `CREATE TABLE IF NOT EXISTS vm_samples_latest (
         namespace text, name text, ts timestamp,
         uid text, host text, state text, vcpus int, cpu_cores double, cpu_time_ns bigint, memory_bytes bigint,
         disk_read_bps double, disk_write_bps double, net_rx_bps double, net_tx_bps double,
         PRIMARY KEY ((namespace), name))
       WITH default_time_to_live = 3600`,
      // Accounting: running totals per VM (uid) per host per hour, rewritten idempotently.
      `CREATE TABLE IF NOT EXISTS usage_hourly (
         namespace text, day int, hour timestamp, name text, uid text, host text,
         cpu_seconds double, memory_mib_seconds double, disk_gib_seconds double, running_seconds double,
         updated timestamp,
         PRIMARY KEY ((namespace, day), hour, name, uid, host))
       WITH default_time_to_live = 34560000`,
    ],
  },
  {
    id: 4,
    description: 'users, system tokens (hashed), quota ledger per project, audit log',
    statements: () => [
      // Users of system tokens; written only by lightweight transactions (version).
      `CREATE TABLE IF NOT EXISTS users (
         name text PRIMARY KEY, groups set<text>, disabled boolean, description text,
         created_at timestamp, created_by text, version int)`,
      // System bearer tokens by SHA-256 of the secret; every row expires with its token (TTL).
      `CREATE TABLE IF NOT EXISTS tokens (
         hash text PRIMARY KEY, id text, user text, groups set<text>, source text,
         expires_at timestamp, created_at timestamp, created_by text, description text)`,
      `CREATE TABLE IF NOT EXISTS token_ids (id text PRIMARY KEY, hash text, user text, expires_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS tokens_by_user (
         user text, id text, groups set<text>, source text, expires_at timestamp, created_at timestamp,
         created_by text, description text,
         PRIMARY KEY ((user), id))`,
      // Quota ledger: one partition per project. Row '' holds the totals and the version every
      // change is compare-and-set on; one row per VM or Volume holds what it is charged.
      `CREATE TABLE IF NOT EXISTS quota_usage (
         project text, item text, version bigint, state text,
         PRIMARY KEY ((project), item))`,
      // Which frontend recomputes a project's usage this period (a lease that expires by itself).
      `CREATE TABLE IF NOT EXISTS quota_leases (project text PRIMARY KEY, holder text)`,
      // Audit log of mutating requests: partitioned by hour and shard, newest first, TTL'd.
      `CREATE TABLE IF NOT EXISTS audit_log (
         hour bigint, shard int, ts timeuuid,
         request_id text, user text, groups list<text>, authenticator text,
         verb text, resource text, namespace text, name text, subresource text,
         code int, reason text, dry_run boolean, source_ip text, user_agent text, latency_ms int,
         PRIMARY KEY ((hour, shard), ts))
       WITH CLUSTERING ORDER BY (ts DESC) AND default_time_to_live = 7776000
        AND compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}`,
    ],
  },
  {
    id: 5,
    description: 'feed entries carry the labels an object had before a change of its labels (label-selector watches)',
    statements: () => [`ALTER TABLE feed ADD prev_labels text`],
  },
  {
    id: 6,
    description: 'quota leases are renewable leases like host leases (one lease repository, store/leases.ts)',
    statements: () => [`ALTER TABLE quota_leases ADD (renew_time timestamp, acquire_time timestamp, duration_ms int, transitions int)`],
  },
  {
    id: 7,
    description: 'a token records the token that minted it (revoked with it, never outliving it)',
    statements: () => [`ALTER TABLE tokens ADD parent text`, `ALTER TABLE tokens_by_user ADD parent text`],
  },
  {
    id: 8,
    description: 'cluster secrets (e.g. the key of console tokens), created once by whichever process comes first',
    // Written only by lightweight transactions (INSERT IF NOT EXISTS): store/cluster-secrets.ts.
    statements: () => [`CREATE TABLE IF NOT EXISTS cluster_secrets (name text PRIMARY KEY, value blob, created_at timestamp)`],
  },
  {
    id: 9,
    description: 'Events (core/v1), aggregated per object and reason, expiring by TTL (store/events.ts)',
    // A partition per project and shard (of the involved object's name), rows named <object>.<hash>
    // so one object's events are one slice of one partition; every write carries a TTL (default
    // 1 h, renewed by each repeat), the table's default is the safety net. Plain writes only.
    statements: () => [
      `CREATE TABLE IF NOT EXISTS events (
         namespace text, shard int, name text, body text,
         PRIMARY KEY ((namespace, shard), name))
       WITH default_time_to_live = 3600 AND gc_grace_seconds = 3600`,
    ],
  },
];

/** The schema version this code needs: the highest migration id (every lower one applied too). */
export const SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.id));

/** Thrown when the nodes do not agree on the schema after a DDL statement. */
export class SchemaDisagreementError extends Error {
  readonly code = 'SchemaDisagreement';
  constructor(cql: string, waitedMs: number) {
    super(`the Cassandra nodes did not agree on the schema within ${Math.round(waitedMs / 1000)} s after: ${cql.replace(/\s+/g, ' ').slice(0, 120)}`
      + ' (check that every node is up, `nodetool describecluster`, then run the migration again)');
    this.name = 'SchemaDisagreementError';
  }
}

export interface MigrateOptions {
  client: Client;
  keyspace: string;
  /** replication factor for a new keyspace (1 for one node, 3 for a cluster) */
  replicationFactor?: number;
  feedRetentionSec?: number;
  logger?: Logger;
  owner?: string;
  sleep?: (ms: number) => Promise<void>;
  /** how long to wait for schema agreement after a DDL statement beyond the driver's own wait; default 60 000 ms */
  agreementTimeoutMs?: number;
}

const defaultSleep = (ms: number) => sleep(systemClock, ms);

/** Creates the keyspace if needed and applies pending migrations exactly once cluster-wide. */
export async function migrate(o: MigrateOptions): Promise<number[]> {
  const { client, keyspace } = o;
  const ks = keyspace;
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(ks)) throw new Error(`invalid keyspace name ${ks}`);
  const rf = o.replicationFactor ?? 1;
  const sleep = o.sleep ?? defaultSleep;
  const owner = o.owner ?? `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const feedRetentionSec = o.feedRetentionSec ?? 900;
  const ddl = (cql: string) => executeDdl(client, cql, { sleep, timeoutMs: o.agreementTimeoutMs ?? 60_000, logger: o.logger });

  // With Cassandra authorization on, components' roles may not CREATE (Cassandra checks the
  // permission even for IF NOT EXISTS): skip what exists, so they only read schema_migrations.
  const present = await client.execute(
    `SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name IN ('schema_migrations', 'schema_lock')`, [ks]);
  if (present.rowLength < 2) {
    await ddl(`CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': ${rf}}`);
    await ddl(`CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (id int PRIMARY KEY, description text, applied_at timestamp, applied_by text)`);
    await ddl(`CREATE TABLE IF NOT EXISTS ${ks}.schema_lock (id int PRIMARY KEY, owner text)`);
  }

  const applied = async () => {
    const rs = await client.execute(`SELECT id FROM ${ks}.schema_migrations`, [], { consistency: types.consistencies.localQuorum });
    return new Set(rs.rows.map((r) => r['id'] as number));
  };
  let done = await applied();
  if (MIGRATIONS.every((m) => done.has(m.id))) return [];

  // Take the migration lease (expires by itself if its holder dies).
  for (let attempt = 0; ; attempt++) {
    const rs = await client.execute(`INSERT INTO ${ks}.schema_lock (id, owner) VALUES (0, ?) IF NOT EXISTS USING TTL 120`, [owner]);
    if (rs.wasApplied()) break;
    o.logger?.info({ holder: rs.first()?.['owner'] }, 'waiting for another process to finish migrations');
    await sleep(Math.min(2000, 100 * 2 ** attempt));
    done = await applied();
    if (MIGRATIONS.every((m) => done.has(m.id))) return [];
  }
  const ran: number[] = [];
  try {
    done = await applied();
    for (const m of MIGRATIONS) {
      if (done.has(m.id)) continue;
      o.logger?.info({ migration: m.id, description: m.description }, 'applying migration');
      for (const stmt of m.statements({ feedRetentionSec })) {
        const cql = stmt.replace(/\b(TABLE IF NOT EXISTS|ALTER TABLE) (\w+)/, `$1 ${ks}.$2`);
        try {
          await ddl(cql);
        } catch (err) {
          // A column added by an earlier run that stopped before recording the migration.
          if (!/^ALTER TABLE/.test(cql) || !/conflicts with an existing column|already exist/i.test(String((err as Error).message))) throw err;
        }
      }
      await client.execute(`INSERT INTO ${ks}.schema_migrations (id, description, applied_at, applied_by) VALUES (?, ?, ?, ?)`,
        [m.id, m.description, new Date(), owner]);
      ran.push(m.id);
    }
  } finally {
    await client.execute(`DELETE FROM ${ks}.schema_lock WHERE id = 0 IF owner = ?`, [owner]);
  }
  return ran;
}

/**
 * Runs one DDL statement and returns once every node agrees on the schema. The driver already
 * waits up to protocolOptions.maxSchemaAgreementWaitSeconds (10 s) and says whether agreement was
 * reached; if not, poll checkSchemaAgreement() up to `timeoutMs`, then fail rather than run the
 * next statement on a schema some nodes have not seen.
 */
async function executeDdl(client: Client, cql: string, o: { sleep: (ms: number) => Promise<void>; timeoutMs: number; logger?: Logger }): Promise<void> {
  const rs = await client.execute(cql);
  // Both are in the driver (lib/types/result-set.js, lib/metadata/index.js) but not in its typings.
  if ((rs.info as { isSchemaInAgreement?: boolean }).isSchemaInAgreement !== false) return;
  const metadata = client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  const driverWaitMs = ((client as unknown as { options?: { protocolOptions?: { maxSchemaAgreementWaitSeconds?: number } } }).options?.protocolOptions?.maxSchemaAgreementWaitSeconds ?? 10) * 1000;
  const started = Date.now();
  o.logger?.warn({ cql: cql.slice(0, 80) }, 'schema not yet agreed by every node; waiting');
  while (Date.now() - started < o.timeoutMs) {
    await o.sleep(500);
    if (await metadata.checkSchemaAgreement()) return;
  }
  throw new SchemaDisagreementError(cql, Date.now() - started + driverWaitMs);
}
