// The only place that reads the environment: every process's settings, with documented defaults.

import { int, intValue, type Env } from './env';
import { loadAuthConfig, type AuthConfig } from './auth';

export type { AuthConfig, OidcConfig, LdapConfig } from './auth';

export interface CassandraConfig {
  /** STRATUS_CASSANDRA: host:port list, default 127.0.0.1:9042 */
  contactPoints: string[];
  /** STRATUS_CASSANDRA_DC: default datacenter1 */
  localDataCenter: string;
  /** STRATUS_KEYSPACE: default stratus */
  keyspace: string;
  /** STRATUS_REPLICATION: replication factor of a new keyspace, default 1 (3 for a cluster) */
  replicationFactor: number;
  /** STRATUS_CASSANDRA_USER / STRATUS_CASSANDRA_PASSWORD */
  username?: string;
  password?: string;
  /**
   * STRATUS_MIGRATE: what a component does about the schema at start. `wait` (default): wait
   * until the migration step (`npm run migrate` / stratus-migrate) has applied the version it
   * needs; `auto`: apply the migrations itself (development only: components racing to create a
   * fresh schema is how Cassandra's schema disagreement happens).
   */
  schemaMode: 'wait' | 'auto';
}

export interface ApiConfig {
  cassandra: CassandraConfig;
  /** STRATUS_LISTEN: host:port, default 127.0.0.1:6443 */
  host: string;
  port: number;
  /** STRATUS_TLS_CERT / STRATUS_TLS_KEY: PEM files; HTTPS when both are set */
  tlsCert?: string;
  tlsKey?: string;
  /** STRATUS_LOG_LEVEL: default info */
  logLevel: string;
  /** STRATUS_MAX_BODY_BYTES: default 3 MiB */
  maxBodyBytes: number;
  /** STRATUS_API_LARGE_REQUESTS: requests with bodies over 256 KiB served at once (memory bound), default 2 */
  largeRequests: number;
  /** STRATUS_WATCH_POLL_MS: how often watches read the change feed, default 250 */
  watchPollMs: number;
  /** STRATUS_WATCH_BOOKMARK_MS: how often watches that allow them get a BOOKMARK, default 60000 (as kube-apiserver) */
  watchBookmarkMs: number;
  /** STRATUS_WATCH_KEEPALIVE_MS: a newline on a watch idle this long (for proxies' idle timeouts), default 30000; 0 disables */
  watchKeepAliveMs: number;
  /** STRATUS_FEED_RETENTION_SEC: how long changes stay watchable, default 900 */
  feedRetentionSec: number;
  /** STRATUS_API_WORKERS: processes sharing the listening port (node:cluster), default 1 */
  workers: number;
  /** authentication, authorization, rate limits, audit, quota repair (config/auth.ts) */
  auth: AuthConfig;
  /** STRATUS_DRAIN_GRACE_MS: on SIGTERM, how long in-flight requests and watches may take to finish, default 10000 */
  shutdownGraceMs: number;
}

/** What stratus-migrate needs (api/migrate-main.ts). */
export interface MigrateConfig {
  cassandra: CassandraConfig;
  /** STRATUS_FEED_RETENTION_SEC: the change feed's TTL written into a new feed table, default 900 */
  feedRetentionSec: number;
  /** STRATUS_MIGRATE_TIMEOUT_SEC (or --timeout): how long to wait for Cassandra to answer, default 120 */
  timeoutSec: number;
  /** STRATUS_LOG_LEVEL: default warn (the statements applied are logged at info) */
  logLevel: string;
}


export function loadCassandraConfig(env: Env = process.env): CassandraConfig {
  return {
    contactPoints: (env['STRATUS_CASSANDRA'] ?? '127.0.0.1:9042').split(',').map((s) => s.trim()).filter(Boolean),
    localDataCenter: env['STRATUS_CASSANDRA_DC'] ?? 'datacenter1',
    keyspace: env['STRATUS_KEYSPACE'] ?? 'stratus',
    replicationFactor: int(env, 'STRATUS_REPLICATION', 1),
    username: env['STRATUS_CASSANDRA_USER'] || undefined,
    password: env['STRATUS_CASSANDRA_PASSWORD'] || undefined,
    schemaMode: schemaMode(env),
  };
}

function schemaMode(env: Env): 'wait' | 'auto' {
  const v = (env['STRATUS_MIGRATE'] ?? '').trim() || 'wait';
  if (v !== 'wait' && v !== 'auto') throw new Error(`STRATUS_MIGRATE must be "wait" or "auto", got "${v}"`);
  return v;
}

/** STRATUS_DRAIN_GRACE_MS: how long a stopping frontend or controller replica lets work in flight finish; default 10000. */
export function loadShutdownGraceMs(env: Env = process.env): number {
  return int(env, 'STRATUS_DRAIN_GRACE_MS', 10_000);
}

/** `timeoutSec` is the --timeout flag of stratus-migrate, which overrides STRATUS_MIGRATE_TIMEOUT_SEC. */
export function loadMigrateConfig(env: Env = process.env, flags: { timeout?: string } = {}): MigrateConfig {
  return {
    cassandra: loadCassandraConfig(env),
    feedRetentionSec: int(env, 'STRATUS_FEED_RETENTION_SEC', 900),
    timeoutSec: flags.timeout !== undefined ? intValue('--timeout', flags.timeout, 120) : int(env, 'STRATUS_MIGRATE_TIMEOUT_SEC', 120),
    logLevel: env['STRATUS_LOG_LEVEL'] ?? 'warn',
  };
}

export function loadApiConfig(env: Env = process.env): ApiConfig {
  const listen = env['STRATUS_LISTEN'] ?? '127.0.0.1:6443';
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`STRATUS_LISTEN must be host:port, got "${listen}"`);
  return {
    cassandra: loadCassandraConfig(env),
    host: listen.slice(0, i),
    port,
    tlsCert: env['STRATUS_TLS_CERT'] || undefined,
    tlsKey: env['STRATUS_TLS_KEY'] || undefined,
    logLevel: env['STRATUS_LOG_LEVEL'] ?? 'info',
    maxBodyBytes: int(env, 'STRATUS_MAX_BODY_BYTES', 3 * 1024 * 1024),
    largeRequests: int(env, 'STRATUS_API_LARGE_REQUESTS', 2),
    watchPollMs: int(env, 'STRATUS_WATCH_POLL_MS', 250),
    watchBookmarkMs: Math.max(1, int(env, 'STRATUS_WATCH_BOOKMARK_MS', 60_000)),
    watchKeepAliveMs: int(env, 'STRATUS_WATCH_KEEPALIVE_MS', 30_000),
    feedRetentionSec: int(env, 'STRATUS_FEED_RETENTION_SEC', 900),
    auth: loadAuthConfig(env),
    workers: Math.max(1, int(env, 'STRATUS_API_WORKERS', 1)),
    shutdownGraceMs: loadShutdownGraceMs(env),
  };
}
