// stratus-controllers: one controller replica (run as many as you like; there is no leader).
// Connects to Cassandra (retrying), waits for the schema (applied by stratus-migrate), runs the
// informers and controllers, and serves /metrics, /healthz and /readyz.

import http from 'node:http';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadControllerConfig } from '../config/controllers';
import { REDACTED, SECRET_LOG_PATHS } from '../kube/secret-fields';
import { createCassandraClient, ObjectStore, startStore } from '../store';
import { MetricsStore } from '../store/samples';
import { EventRepository } from '../store/events';
import { EventBroadcaster } from '../runtime/events';
import { abortOnSignals, closer, HttpServerRunnable, Manager, PROBE_PATHS, probeHandler } from '../runtime';
import { loadShutdownGraceMs } from '../config';
import { buildReplica } from './replica';

export async function runControllers(signal: AbortSignal): Promise<void> {
  const cfg = loadControllerConfig();
  const logger = pino({ level: cfg.logLevel, base: { component: 'controllers', id: cfg.identity }, redact: { paths: [...SECRET_LOG_PATHS], censor: REDACTED } });
  const keyspace = cfg.cassandra.keyspace;
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  const store = new ObjectStore({ client, keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const graceMs = loadShutdownGraceMs();
  // One manager, started in this order and stopped in reverse: Cassandra, the metrics endpoint
  // (up from the start: /readyz says what start-up waits for), then, once Cassandra answers and
  // the schema is there, the replica: informers, load sampler and controllers (buildReplica).
  // On SIGTERM the controllers take no new key and finish the reconciles in flight.
  const manager = new Manager({ logger, stopTimeoutMs: graceMs }).add(closer('cassandra', () => client.shutdown()));

  if (cfg.metricsPort !== undefined) {
    const probes = probeHandler(() => manager.notReady());
    const server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        }, (err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      } else if (PROBE_PATHS.has(req.url ?? '')) {
        probes(req, res);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    manager.add(new HttpServerRunnable({ name: 'metrics-server', server, port: cfg.metricsPort, host: cfg.metricsHost, path: '/metrics', logger, message: 'metrics listening' }));
  }
  let replica: Manager | undefined;
  manager.add({
    name: 'replica',
    start: (s) => replica!.start(s),
    notReady: () => replica?.notReady(),
  }, {
    name: 'replica',
    after: async (s, report) => {
      await startStore({ client, keyspace, store, logger, signal: s, report, schemaMode: cfg.cassandra.schemaMode, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec });
      // Built once the store is initialized (the Events sink writes to its feed).
      replica = buildReplica({
        store, logger, registry, identity: cfg.identity, informer: cfg.informer, manager: new Manager({ logger, name: 'replica', stopTimeoutMs: graceMs }),
        loads: { samples: new MetricsStore({ client, keyspace }) },
        scheduler: cfg.scheduler, hostHealth: cfg.hostHealth, audit: cfg.audit,
        events: new EventBroadcaster({
          sink: new EventRepository({ client, keyspace, feed: store.feed, ttlSec: cfg.events.ttlSec }),
          registry, logger, queueSize: cfg.events.queueSize, correlator: { burst: cfg.events.burst, refillMs: cfg.events.refillMs },
        }),
      }).manager;
      logger.info('stratus-controllers started');
    },
  });
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
