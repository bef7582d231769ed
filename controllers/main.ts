// stratus-controllers: one controller replica (run as many as you like; there is no leader).
// Connects to Cassandra, applies migrations, runs the informers and controllers, and serves
// /metrics and /healthz.

import http from 'node:http';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadControllerConfig } from '../config/controllers';
import { createCassandraClient, migrate, ObjectStore } from '../store';
import { buildReplica } from './replica';

export async function runControllers(signal: AbortSignal): Promise<void> {
  const cfg = loadControllerConfig();
  const logger = pino({ level: cfg.logLevel, base: { component: 'controllers', id: cfg.identity } });
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  await client.connect();
  await migrate({ client, keyspace: cfg.cassandra.keyspace, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec, logger });
  const store = new ObjectStore({ client, keyspace: cfg.cassandra.keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  await store.init();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const replica = buildReplica({
    store, logger, registry, identity: cfg.identity, informer: cfg.informer,
    loads: { client, keyspace: cfg.cassandra.keyspace },
    scheduler: cfg.scheduler, hostHealth: cfg.hostHealth, audit: cfg.audit,
  });

  let server: http.Server | undefined;
  if (cfg.metricsPort !== undefined) {
    server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        }, (err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        const synced = Object.values(replica.informers).every((i) => i.hasSynced());
        res.writeHead(synced || req.url === '/healthz' ? 200 : 503);
        res.end(synced ? 'ok' : 'syncing');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(cfg.metricsPort, cfg.metricsHost, resolve);
    });
    logger.info({ url: `http://${cfg.metricsHost}:${cfg.metricsPort}/metrics` }, 'metrics listening');
  }
  logger.info('stratus-controllers started');
  try {
    await replica.manager.start(signal);
  } finally {
    logger.info('shutting down');
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await client.shutdown();
  }
}

export function main(): void {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  runControllers(ac.signal).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`stratus-controllers: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
