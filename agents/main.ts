#!/usr/bin/env node
/**
 * stratus-agent: the hypervisor agent. One per hypervisor (`--host hv-1 --libvirt-uri
 * qemu:///system`), or N hollow hosts on libvirt's test driver for scale tests (`--hollow 1000`).
 * Flags override the environment (config/agent.ts). SIGINT/SIGTERM stop it; domains keep running.
 */
import { Command } from 'commander';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadAgentConfig, type AgentFlags } from '../config/agent';
import { agentLogger } from './logger';
import { createCassandraClient, ObjectStore, startStore, startupSteps } from '../store';
import { LeaseRepository } from '../store/leases';
import { MetricsStore } from '../store/samples';
import { EventRepository } from '../store/events';
import { EventBroadcaster } from '../runtime/events';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../store/cluster-secrets';
import { randomBytes } from 'node:crypto';
import { LibvirtExecutor } from '../libvirt';
import { abortOnSignals, closer, Manager } from '../runtime';
import { AgentProcess, hollowHosts, type HostSpecForProcess } from './agent-process';
import { MetricsServer } from './metrics/server';
import { join } from 'node:path';

async function main(argv: string[]): Promise<number> {
  const program = new Command('stratus-agent')
    .description('Stratus hypervisor agent: runs the VMs bound to this host on libvirt')
    .option('--host <name>', 'Host name (default: $STRATUS_AGENT_HOST or the machine name)')
    .option('--libvirt-uri <uri>', 'libvirt URI, e.g. qemu:///system or test:///ABS/host.xml')
    .option('--cassandra <host:port,...>', 'Cassandra contact points (default: $STRATUS_CASSANDRA)')
    .option('--keyspace <name>', 'keyspace (default: $STRATUS_KEYSPACE or stratus)')
    .option('--labels <k=v,...>', 'labels of the Host')
    .option('--hollow <n>', 'run N hollow hosts on the test driver (scale tests)')
    .option('--state-dir <dir>', 'console logs, hollow host files, default pool (default .stratus/agent)')
    .option('--pool <name>', 'storage pool of VM disks (default "default")')
    .option('--virt-type <type>', 'auto | kvm | qemu | test')
    .option('--fence-ms <ms>', 'T_fence: stop every domain after this long without the lease')
    .option('--heartbeat-ms <ms>', 'Host heartbeat period')
    .option('--sample-ms <ms>', 'monitoring period')
    .option('--no-monitoring', 'no monitoring samples or accounting')
    .option('--metrics-port <port>', 'serve Prometheus /metrics, /healthz and /readyz on this port (default: $STRATUS_AGENT_METRICS_PORT or 0 = off)')
    .option('--metrics-address <addr>', 'address /metrics listens on (default: $STRATUS_AGENT_METRICS_ADDRESS or 127.0.0.1)')
    .option('--seeds <mode>', 'cloud-init seed ISO per VM: auto (real hosts only), on, off (default: $STRATUS_AGENT_SEEDS or auto)')
    .option('--console-address <host:port>', 'console server for the frontends: serial consoles, VNC, console logs (default: $STRATUS_AGENT_CONSOLE_ADDRESS or 127.0.0.1:0, any free port)')
    .option('--log-level <level>', 'log level (default info)');
  program.parse(argv);
  const flags = program.opts<AgentFlags>();
  let cfg;
  try {
    cfg = loadAgentConfig(flags);
  } catch (err) {
    process.stderr.write(`stratus-agent: ${(err as Error).message}\n`);
    return 2;
  }
  // Cloud-init user data can hold secrets: never in a log line, whatever logs a VM.
  const logger = agentLogger(cfg.logLevel);
  const client = createCassandraClient({
    contactPoints: cfg.cassandra.contactPoints, localDataCenter: cfg.cassandra.localDataCenter,
    username: cfg.cassandra.username, password: cfg.cassandra.password,
  });
  // SIGINT/SIGTERM also end the start-up's waiting (for Cassandra, for the schema).
  const signal = abortOnSignals((sig) => logger.info({ signal: sig }, 'stopping (domains keep running)'));
  const store = new ObjectStore({ client, keyspace: cfg.cassandra.keyspace, logger, feed: { retentionSec: cfg.feedRetentionSec } });
  let consoleKey: Uint8Array;
  try {
    // Each step retried with backoff: an agent started before Cassandra or the migration waits.
    await startStore({ client, keyspace: cfg.cassandra.keyspace, store, logger, signal, schemaMode: cfg.cassandra.schemaMode, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec });
    // The key of console tokens, shared with the frontends through Cassandra (created by whoever comes first).
    consoleKey = await startupSteps({ logger, signal })('reading the console key',
      () => new ClusterSecretRepository({ client, keyspace: cfg.cassandra.keyspace }).getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32)));
  } catch (err) {
    await client.shutdown().catch(() => undefined);
    if (signal.aborted) return 0;
    throw err;
  }

  const hosts: HostSpecForProcess[] = cfg.hollow > 0
    ? await hollowHosts({ prefix: cfg.host, count: cfg.hollow, dir: join(cfg.stateDir, 'hollow'), cpus: cfg.hollowCpus, memoryMiB: cfg.hollowMemoryMiB, labels: cfg.labels })
    : [{ name: cfg.host, libvirtUri: cfg.libvirtUri, labels: cfg.labels }];
  const executor = new LibvirtExecutor({ threads: 4 });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const proc = new AgentProcess({
    registry,
    store, hosts, stateDir: cfg.stateDir, pool: cfg.pool,
    leases: new LeaseRepository({ client, keyspace: cfg.cassandra.keyspace }),
    events: new EventBroadcaster({
      sink: new EventRepository({ client, keyspace: cfg.cassandra.keyspace, feed: store.feed, ttlSec: cfg.events.ttlSec }),
      registry, logger, queueSize: cfg.events.queueSize, correlator: { burst: cfg.events.burst, refillMs: cfg.events.refillMs },
    }),
    samples: cfg.monitoring
      ? new MetricsStore({ client, keyspace: cfg.cassandra.keyspace, sampleTtlSec: cfg.sampleTtlSec, usageTtlSec: cfg.usageTtlSec })
      : undefined,
    virtType: cfg.hollow > 0 ? 'test' : cfg.virtType, workers: cfg.workers, pollIntervalMs: cfg.pollIntervalMs, executor, logger,
    console: { ...cfg.console, advertise: cfg.consoleAdvertise, key: consoleKey },
    seeds: cfg.seeds, forwards: { address: cfg.forwardAddress, ...cfg.forwardPorts }, addresses: { steadyMs: cfg.addressPollMs },
    network: cfg.network,
    timings: {
      renewIntervalMs: cfg.renewIntervalMs, fenceAfterMs: cfg.fenceAfterMs, heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      resyncMs: cfg.resyncMs, sampleIntervalMs: cfg.sampleIntervalMs, accountingFlushMs: cfg.accountingFlushMs, shutdownGraceMs: cfg.shutdownGraceMs,
      libvirtProbeMs: cfg.libvirtProbeMs,
    },
  });
  logger.info({ hosts: hosts.length, keyspace: cfg.cassandra.keyspace }, 'stratus-agent starting');
  // One manager, started in this order and stopped in reverse: the libvirt workers and Cassandra
  // last, then the sources and hosts, the metrics endpoint first. Any part failing (the metrics
  // port taken, say) stops the others: an agent without the metrics it was asked for would be
  // noticed only when they are missed.
  const manager = new Manager({ logger })
    .add(closer('libvirt-executor', () => executor.close().catch(() => undefined)))
    .add(closer('cassandra', () => client.shutdown().catch(() => undefined)));
  proc.addTo(manager);
  if (cfg.metricsPort > 0) {
    manager.add(new MetricsServer({ registry, host: cfg.metricsAddress, port: cfg.metricsPort, notReady: () => proc.notReady(), routes: [proc.debugDomainsHandler], logger }), 'metrics-server');
  }
  let code = 0;
  try {
    await manager.start(signal);
  } catch (err) {
    logger.error({ err: String(err) }, 'agent failed');
    code = 1;
  }
  return code;
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code), (err) => {
    process.stderr.write(`stratus-agent: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}

export { main };
