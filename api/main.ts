// stratus-api: one stateless frontend. Connects to Cassandra, waits for the schema (applied by
// stratus-migrate), serves the API; drains on SIGTERM.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cluster from 'node:cluster';
import http from 'node:http';
import https from 'node:https';
import pino from 'pino';
import { loadApiConfig } from '../config';
import { Validator } from '../schemas/validate';
import { createCassandraClient, ObjectStore, QuorumProbe, startStore, startupSteps } from '../store';
import { AuditRepository } from '../store/audit';
import { LeaseRepository } from '../store/leases';
import { QuotaRepository } from '../store/quota';
import { TokenRepository } from '../store/tokens';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../store/cluster-secrets';
import { abortOnSignals, closer, HttpServerRunnable, Manager, probeHandler, untilAborted } from '../runtime';
import { createApp, type StratusApp } from './app';
import { Security } from './auth/security';
import { LOG_REDACT } from './auth/redact';
import { ApiMetrics } from './metrics';
import { MetricsStore } from '../store/samples';
import { EventRepository } from '../store/events';
import { ErrorCode, hasCode } from '../errors';

export async function runApi(signal: AbortSignal): Promise<void> {
  const cfg = loadApiConfig();
  const logger = pino({ level: cfg.logLevel, base: { component: 'api' }, redact: LOG_REDACT });
  const keyspace = cfg.cassandra.keyspace;
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  const ks = { client, keyspace };
  const store = new ObjectStore({ client, keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  const probe = new QuorumProbe(ks);
  // The server listens from the start, answering only probes (/readyz: 503 and why) until the
  // frontend is built; then the app takes over the same server.
  let frontend: { app: StratusApp; security: Security } | undefined;
  let handle: http.RequestListener = probeHandler(() => manager.notReady() ?? 'starting');
  let upgrade: StratusApp['upgrade'] = (_req, socket) => socket.destroy();
  const listener: http.RequestListener = (req, res) => handle(req, res);
  const server = cfg.tlsCert && cfg.tlsKey
    ? https.createServer({ cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 65_000;
  server.on('upgrade', (req, socket, head) => upgrade(req, socket, head));

  /** Every start-up step that needs Cassandra, retried with backoff (store/startup.ts). */
  const build = async (s: AbortSignal, report: (why: string | undefined) => void) => {
    await startStore({ client, keyspace, store, logger, signal: s, report, schemaMode: cfg.cassandra.schemaMode, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec });
    const step = startupSteps({ logger, signal: s, report });
    // Kubernetes clients assume a "default" namespace exists.
    await step('creating the default project', () => store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'default' }, spec: {} }).then(() => undefined, (err) => {
      if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
    }));
    // The key of console tokens, shared with the agents through Cassandra (created by whoever comes first).
    const consoleKey = await step('reading the console key', () => new ClusterSecretRepository(ks).getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32)));
    const repositories = {
      tokens: new TokenRepository(ks), audit: new AuditRepository(ks), quota: new QuotaRepository(ks), quotaLeases: new LeaseRepository({ ...ks, family: 'quota' }),
    };
    const security = new Security({ repositories, store, config: cfg.auth, logger });
    const app = createApp({
      consoleKey,
      store, validator: new Validator(), logger, metrics: new ApiMetrics({ processMetrics: true }), security,
      monitoring: new MetricsStore(ks),
      events: new EventRepository(ks),
      limits: { maxBytes: cfg.maxBodyBytes }, largeBodies: { concurrent: Math.max(1, cfg.largeRequests) }, watch: { pollMs: cfg.watchPollMs, bookmarkMs: cfg.watchBookmarkMs, keepAliveMs: cfg.watchKeepAliveMs },
      // Ready when every part runs and Cassandra answers at LOCAL_QUORUM (cached for a second).
      notReady: async () => manager.notReady() ?? probe.check(),
    });
    frontend = { app, security };
    handle = app.app.callback();
    upgrade = app.upgrade;
  };

  // One manager, started in this order: Cassandra's client, the server (probes only), then the
  // frontend once built. Stopping (SIGTERM) drains first: /readyz false, no new connections or
  // requests, watches end with a last BOOKMARK, requests in flight finish (up to
  // STRATUS_DRAIN_GRACE_MS); then, in reverse order, the watch followers and consoles, the
  // quota ledger's background repair and the audit flush, the server, and Cassandra last.
  const manager = new Manager({ logger })
    .add(closer('cassandra', () => client.shutdown()))
    .add(new HttpServerRunnable({
      name: 'http', server, port: cfg.port, host: cfg.host, scheme: cfg.tlsCert ? 'https' : 'http', logger, message: 'stratus-api listening',
      graceMs: cfg.shutdownGraceMs, onDrain: () => frontend?.app.drain(),
    }))
    .add({
      name: 'security',
      async start(s) {
        const security = frontend!.security;
        try {
          await security.start(s);
        } catch (err) {
          logger.error({ err }, 'security background work failed');
          await untilAborted(s);
        } finally {
          await security.close();
        }
      },
    }, { name: 'security', after: build })
    .add(closer('watches', () => frontend?.app.close()));
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
