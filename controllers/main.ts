// stratus-controllers: one controller replica (run as many as you like; there is no leader).
// Connects to Cassandra, applies migrations, runs the informers and controllers, and serves
// /metrics and /healthz.

import http from 'node:http';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadControllerConfig } from '../config/controllers';
import { REDACTED, SECRET_LOG_PATHS } from '../kube/secret-fields';
import { createCassandraClient, migrate, ObjectStore } from '../store';
import { MetricsStore } from '../store/samples';
import { EventRepository } from '../store/events';
import { EventBroadcaster } from '../runtime/events';
import { abortOnSignals, closer, HttpServerRunnable, Manager } from '../runtime';
import { buildReplica } from './replica';

export async function runControllers(signal: AbortSignal): Promise<void> {
  const cfg = loadControllerConfig();
  const logger = pino({ level: cfg.logLevel, base: { component: 'controllers', id: cfg.identity }, redact: { paths: [...SECRET_LOG_PATHS], censor: REDACTED } });
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  await client.connect();
  await migrate({ client, keyspace: cfg.cassandra.keyspace, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec, logger });
  const store = new ObjectStore({ client, keyspace: cfg.cassandra.keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  await store.init();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // One manager, started in this order and stopped in reverse: Cassandra, the metrics endpoint,
  // then the informers, the load sampler and the controllers (buildReplica adds them).
  const manager = new Manager({ logger }).add(closer('cassandra', () => client.shutdown()));

  if (cfg.metricsPort !== undefined) {
    const server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        }, (err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        const why = manager.notReady();
        res.writeHead(!why || req.url === '/healthz' ? 200 : 503);
        res.end(why ?? 'ok');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    manager.add(new HttpServerRunnable({ name: 'metrics-server', server, port: cfg.metricsPort, host: cfg.metricsHost, path: '/metrics', logger, message: 'metrics listening' }));
  }
  buildReplica({
    store, logger, registry, identity: cfg.identity, informer: cfg.informer, manager,
    loads: { samples: new MetricsStore({ client, keyspace: cfg.cassandra.keyspace }) },
    scheduler: cfg.scheduler, hostHealth: cfg.hostHealth, audit: cfg.audit,
    events: new EventBroadcaster({
      sink: new EventRepository({ client, keyspace: cfg.cassandra.keyspace, feed: store.feed, ttlSec: cfg.events.ttlSec }),
      registry, logger, queueSize: cfg.events.queueSize, correlator: { burst: cfg.events.burst, refillMs: cfg.events.refillMs },
    }),
  });
  logger.info('stratus-controllers started');
  try {
    await manager.start(signal);
  } finally {
    logger.info('stopped');
  }
}

export function main(): void {
  runControllers(abortOnSignals()).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`stratus-controllers: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
