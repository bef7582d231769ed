// stratus-api: one stateless frontend. Connects to Cassandra, applies migrations, serves the API.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import http from 'node:http';
import https from 'node:https';
import pino from 'pino';
import { loadApiConfig } from '../config';
import { Validator } from '../schemas/validate';
import { createCassandraClient, migrate, ObjectStore, pingCassandra } from '../store';
import { AuditRepository } from '../store/audit';
import { LeaseRepository } from '../store/leases';
import { QuotaRepository } from '../store/quota';
import { TokenRepository } from '../store/tokens';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../store/cluster-secrets';
import { abortOnSignals, closer, HttpServerRunnable, Manager, untilAborted } from '../runtime';
import { createApp } from './app';
import { Security } from './auth/security';
import { LOG_REDACT } from './auth/redact';
import { ApiMetrics } from './metrics';
import { MetricsStore } from '../store/samples';
import { EventRepository } from '../store/events';
import { ErrorCode, hasCode } from '../errors';

export async function runApi(signal: AbortSignal): Promise<void> {
  const cfg = loadApiConfig();
  const logger = pino({ level: cfg.logLevel, base: { component: 'api' }, redact: LOG_REDACT });
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  await client.connect();
  await migrate({ client, keyspace: cfg.cassandra.keyspace, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec, logger });
  const store = new ObjectStore({ client, keyspace: cfg.cassandra.keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  await store.init();
  // Kubernetes clients assume a "default" namespace exists.
  await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'default' }, spec: {} }).catch((err) => {
    if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
  });
  const metrics = new ApiMetrics({ processMetrics: true });
  const ks = { client, keyspace: cfg.cassandra.keyspace };
  const repositories = {
    tokens: new TokenRepository(ks), audit: new AuditRepository(ks), quota: new QuotaRepository(ks), quotaLeases: new LeaseRepository({ ...ks, family: 'quota' }),
  };
  const security = new Security({ repositories, store, config: cfg.auth, logger });
  // The key of console tokens, shared with the agents through Cassandra (created by whoever comes first).
  const consoleKey = await new ClusterSecretRepository(ks).getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32));
  const { app, close: closeApp, upgrade } = createApp({
    consoleKey,
    store, validator: new Validator(), logger, metrics, security,
    monitoring: new MetricsStore({ client, keyspace: cfg.cassandra.keyspace }),
    events: new EventRepository({ client, keyspace: cfg.cassandra.keyspace }),
    limits: { maxBytes: cfg.maxBodyBytes }, largeBodies: { concurrent: Math.max(1, cfg.largeRequests) }, watch: { pollMs: cfg.watchPollMs, bookmarkMs: cfg.watchBookmarkMs, keepAliveMs: cfg.watchKeepAliveMs },
    ready: async () => {
      if (manager.notReady()) return false;
      await pingCassandra(client);
      return true;
    },
  });
  const server = cfg.tlsCert && cfg.tlsKey
    ? https.createServer({ cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) }, app.callback())
    : http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  server.on('upgrade', upgrade);
  // One manager, started in this order and stopped in reverse: the watch streams end first (so
  // the server can close their connections), then the server, then the quota ledger's background
  // repair and the audit flush, and Cassandra last.
  const manager = new Manager({ logger })
    .add(closer('cassandra', () => client.shutdown()))
    .add({
      name: 'security',
      async start(s) {
        try {
          await security.start(s);
        } catch (err) {
          logger.error({ err }, 'security background work failed');
          await untilAborted(s);
        } finally {
          await security.close();
        }
      },
    })
    .add(new HttpServerRunnable({ name: 'http', server, port: cfg.port, host: cfg.host, scheme: cfg.tlsCert ? 'https' : 'http', logger, message: 'stratus-api listening' }))
    .add(closer('watches', closeApp));
  await manager.start(signal);
}

/** With STRATUS_API_WORKERS > 1, a primary process forks that many workers sharing the port. */
function runPrimary(workers: number): void {
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code) => {
    if (!stopping) {
      process.stderr.write(`stratus-api: worker ${w.process.pid} exited with ${code}; starting another\n`);
      cluster.fork();
    } else if (Object.keys(cluster.workers ?? {}).length === 0) {
      process.exit(0);
    }
  });
}

export function main(): void {
  const workers = loadApiConfig().workers;
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers);
  runApi(abortOnSignals()).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`stratus-api: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
