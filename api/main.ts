// stratus-api: one stateless frontend. Connects to Cassandra, applies migrations, serves the API.

import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import http from 'node:http';
import https from 'node:https';
import pino from 'pino';
import { loadApiConfig } from '../config';
import { Validator } from '../schemas/validate';
import { createCassandraClient, migrate, ObjectStore } from '../store';
import { createApp } from './app';
import { Security } from './auth/security';
import { LOG_REDACT } from './auth/redact';
import { ApiMetrics } from './metrics';
import { MetricsStore } from '../store/samples';

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
    if (err.code !== 'ALREADY_EXISTS') throw err;
  });
  const metrics = new ApiMetrics({ processMetrics: true });
  const security = new Security({ client, keyspace: cfg.cassandra.keyspace, store, config: cfg.auth, logger });
  const background = new AbortController();
  const backgroundDone = security.start(background.signal).catch((err) => logger.error({ err }, 'security background work failed'));
  const { app, close: closeApp } = createApp({
    store, validator: new Validator(), logger, metrics, security,
    monitoring: new MetricsStore({ client, keyspace: cfg.cassandra.keyspace }),
    limits: { maxBytes: cfg.maxBodyBytes }, watch: { pollMs: cfg.watchPollMs },
    ready: async () => { await client.execute('SELECT now() FROM system.local'); return true; },
  });
  const server = cfg.tlsCert && cfg.tlsKey
    ? https.createServer({ cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) }, app.callback())
    : http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, resolve);
  });
  logger.info({ url: `${cfg.tlsCert ? 'https' : 'http'}://${cfg.host}:${cfg.port}` }, 'stratus-api listening');
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  logger.info('shutting down');
  closeApp();
  background.abort();
  await backgroundDone;
  await security.close();
  server.closeIdleConnections();
  await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  await client.shutdown();
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
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  runApi(ac.signal).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`stratus-api: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
