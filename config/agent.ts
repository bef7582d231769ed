// Settings of stratus-agent (one hypervisor, or N hollow ones), from command-line flags over the
// environment, with documented defaults. Only config/ reads process.env.

import { isIPv4 } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { intValue, type Env } from './env';
import { loadCassandraConfig, type CassandraConfig } from './index';
import { loadEventConfig, type EventConfig } from './events';
import { FAILOVER_DEFAULTS, heartbeatAckBoundMs } from './failover';

export interface AgentFlags {
  host?: string;
  libvirtUri?: string;
  cassandra?: string;
  keyspace?: string;
  labels?: string;
  hollow?: string | number;
  stateDir?: string;
  pool?: string;
  virtType?: string;
  logLevel?: string;
  fenceMs?: string | number;
  heartbeatMs?: string | number;
  sampleMs?: string | number;
  monitoring?: boolean;
  metricsPort?: string | number;
  metricsAddress?: string;
  consoleAddress?: string;
  seeds?: string;
}

export interface AgentConfig {
  cassandra: CassandraConfig;
  /** --host / STRATUS_AGENT_HOST: the Host name; default the machine's host name */
  host: string;
  /** --libvirt-uri / STRATUS_LIBVIRT_URI: default qemu:///system (ignored with --hollow) */
  libvirtUri: string;
  /** --labels / STRATUS_AGENT_LABELS: "k=v,k2=v2" put on the Host */
  labels: Record<string, string>;
  /** --hollow / STRATUS_AGENT_HOLLOW: run N hollow hosts <host>-0000... on the test driver; 0 = a real one */
  hollow: number;
  /** --state-dir / STRATUS_AGENT_STATE_DIR: console logs, hollow host files, the default pool; default ./.stratus/agent */
  stateDir: string;
  /** --pool / STRATUS_AGENT_POOL: storage pool of VM disks, default "default" */
  pool: string;
  /** --virt-type / STRATUS_AGENT_VIRT_TYPE: auto | kvm | qemu | test, default auto */
  virtType: 'auto' | 'kvm' | 'qemu' | 'test';
  /** STRATUS_LOG_LEVEL: default info */
  logLevel: string;
  /** STRATUS_WATCH_POLL_MS: how often the change feed is read, default 250 */
  pollIntervalMs: number;
  /** STRATUS_FEED_RETENTION_SEC: default 900 (as the API's) */
  feedRetentionSec: number;
  /**
   * --fence-ms / STRATUS_FENCE_MS: T_fence, default 10000: the agent stops every domain when it
   * could not renew its lease and write its heartbeat for this long (by its monotonic clock); it
   * publishes it as Host status.fenceAfterMs. The controllers' STRATUS_RESCHEDULE_MS must exceed it
   * by the margins of config/failover.ts (default 20000 for 10000).
   */
  fenceAfterMs: number;
  /** STRATUS_LEASE_RENEW_MS: default min(2000, T_fence/5) */
  renewIntervalMs: number;
  /** --heartbeat-ms / STRATUS_HEARTBEAT_MS: Host status.heartbeatTime period, default min(3000, T_fence/3) */
  heartbeatIntervalMs: number;
  /** STRATUS_AGENT_RESYNC_MS: re-reconcile every VM, find orphans; default 30000 */
  resyncMs: number;
  /** --sample-ms / STRATUS_SAMPLE_MS: monitoring period, default 10000 */
  sampleIntervalMs: number;
  /** STRATUS_ACCOUNTING_FLUSH_MS: default 60000 */
  accountingFlushMs: number;
  /** STRATUS_SHUTDOWN_GRACE_MS: graceful shutdown before destroy, default 60000 */
  shutdownGraceMs: number;
  /** STRATUS_LIBVIRT_PROBE_MS: how often the libvirt connection is checked (and replaced when dead), default 5000 */
  libvirtProbeMs: number;
  /** STRATUS_SAMPLE_TTL_SEC: retention of samples, default 604800 (7 days) */
  sampleTtlSec: number;
  /** STRATUS_USAGE_TTL_SEC: retention of accounting, default 34560000 (400 days) */
  usageTtlSec: number;
  /** --no-monitoring / STRATUS_AGENT_MONITORING=0: no samples or accounting */
  monitoring: boolean;
  /**
   * --metrics-port / STRATUS_AGENT_METRICS_PORT: serve Prometheus /metrics, /healthz and /readyz
   * on this port; default 0 = off (one machine often runs several agents: hollow hosts, tests,
   * the local cloud, and a fixed default port would make all but the first fail to start)
   */
  metricsPort: number;
  /** --metrics-address / STRATUS_AGENT_METRICS_ADDRESS: where /metrics listens, default 127.0.0.1 (0.0.0.0 for a remote Prometheus) */
  metricsAddress: string;
  /** STRATUS_AGENT_WORKERS: concurrent reconciles per host, default 4 */
  workers: number;
  /**
   * --console-address / STRATUS_AGENT_CONSOLE_ADDRESS: "HOST:PORT" of the console server (serial
   * consoles, VNC displays and console logs, for the frontends); default 127.0.0.1:0, any free port
   * on the loopback (the frontends of a one-machine cloud); 0.0.0.0:PORT for frontends elsewhere
   */
  console: { address: string; port: number };
  /** STRATUS_AGENT_CONSOLE_ADVERTISE: the address frontends reach the console server at, default the listen address (the machine's name for 0.0.0.0) */
  consoleAdvertise?: string;
  /**
   * --seeds / STRATUS_AGENT_SEEDS: build a cloud-init seed ISO (xorriso) per VM: auto (the default:
   * on real hosts, not on the test driver, where thousands of hollow VMs would each spawn xorriso),
   * on, off
   */
  seeds: 'auto' | 'on' | 'off';
  /** STRATUS_AGENT_FORWARD_PORTS: hypervisor ports forwarded to the guests' SSH port (real hosts), "FROM-TO", default 22000-22999 */
  forwardPorts: { from: number; to: number };
  /** STRATUS_AGENT_FORWARD_ADDRESS: the IPv4 address those forwards listen on, default 127.0.0.1 */
  forwardAddress: string;
  /** STRATUS_AGENT_ADDRESS_POLL_MS: how often the addresses of a running guest that has them are read again, default 30000; 0 = never */
  addressPollMs: number;
  /** STRATUS_HOLLOW_CPUS / STRATUS_HOLLOW_MEMORY_MIB: size of each hollow host, default 32 and 131072 */
  hollowCpus: number;
  hollowMemoryMiB: number;
  /** the Events the agent records (STRATUS_EVENT_*: config/events.ts) */
  events: EventConfig;
  /** the host side of Networks (bridges, VXLAN, NAT, security groups) */
  network: AgentNetworkConfig;
}

export interface AgentNetworkConfig {
  /**
   * STRATUS_NETWORK_BACKEND: linux (bridges, VXLAN and nftables, needs root), none (builds nothing:
   * simulated hosts) or auto (the default: linux when the agent runs as root on a real hypervisor,
   * none on the test driver and when not root)
   */
  backend: 'auto' | 'linux' | 'none';
  /** STRATUS_NETWORK_NETNS: run the linux backend's commands inside this network namespace (tests); default none */
  netns?: string;
  /** STRATUS_NETWORK_UPLINKS: host interfaces bridge-mode Networks may enslave, comma-separated; default none */
  uplinks: string[];
  /** STRATUS_NETWORK_ADDRESS: this host's underlay IPv4 (VXLAN); default the source address of the default route */
  address?: string;
  /** STRATUS_NETWORK_REPAIR_MS: how often the host networks are applied again even if nothing changed (repairs), default 60000 */
  repairMs: number;
  /**
   * STRATUS_NETWORK_TAP_OWNER: the uid owning the VM taps the linux backend creates, i.e. the user
   * qemu runs as (an unprivileged session libvirtd opens them); default 0 (root)
   */
  tapOwner: number;
}

/** The STRATUS_NETWORK_* settings. */
export function loadAgentNetworkConfig(env: Env): AgentNetworkConfig {
  const backend = (env['STRATUS_NETWORK_BACKEND'] || 'auto') as AgentNetworkConfig['backend'];
  if (!['auto', 'linux', 'none'].includes(backend)) throw new Error(`STRATUS_NETWORK_BACKEND must be linux, none or auto, got "${backend}"`);
  const netns = env['STRATUS_NETWORK_NETNS'] || undefined;
  if (netns !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(netns)) throw new Error(`STRATUS_NETWORK_NETNS must be a network namespace name, got "${netns}"`);
  const uplinks = (env['STRATUS_NETWORK_UPLINKS'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const u of uplinks) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/.test(u)) throw new Error(`STRATUS_NETWORK_UPLINKS must list interface names separated by commas, got "${u}"`);
  }
  const address = env['STRATUS_NETWORK_ADDRESS'] || undefined;
  if (address !== undefined && !isIPv4(address)) throw new Error(`STRATUS_NETWORK_ADDRESS must be an IPv4 address, got "${address}"`);
  return {
    backend, uplinks,
    ...(netns ? { netns } : {}),
    ...(address ? { address } : {}),
    repairMs: Math.max(1000, intValue('STRATUS_NETWORK_REPAIR_MS', env['STRATUS_NETWORK_REPAIR_MS'], 60_000)),
    tapOwner: intValue('STRATUS_NETWORK_TAP_OWNER', env['STRATUS_NETWORK_TAP_OWNER'], 0),
  };
}


/** "FROM-TO" → { from, to }: a range of TCP ports, named `name` in errors. */
export function parsePortRange(name: string, s: string): { from: number; to: number } {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(s);
  const from = m ? Number(m[1]) : NaN;
  const to = m ? Number(m[2]) : NaN;
  if (!m || from < 1 || to > 65535 || from > to) throw new Error(`${name} must be a port range FROM-TO within 1-65535, got "${s}"`);
  return { from, to };
}

/** "HOST:PORT" (IPv6 as [ADDR]:PORT) → { address, port }, named `name` in errors. */
export function parseListenAddress(name: string, s: string): { address: string; port: number } {
  const m = /^\s*(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})\s*$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${name} must be HOST:PORT (port 0 = any free port), got "${s}"`);
  return { address: m[1] ?? m[2], port };
}

/** "k=v,k2=v2" → { k: 'v', k2: 'v2' } */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`labels must be k=v pairs separated by commas, got "${part}"`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function loadAgentConfig(flags: AgentFlags = {}, env: Env = process.env): AgentConfig {
  const cassandra = loadCassandraConfig(env);
  const contact = flags.cassandra ?? undefined;
  if (contact) cassandra.contactPoints = contact.split(',').map((s) => s.trim()).filter(Boolean);
  if (flags.keyspace) cassandra.keyspace = flags.keyspace;
  const virtType = (flags.virtType ?? env['STRATUS_AGENT_VIRT_TYPE'] ?? 'auto') as AgentConfig['virtType'];
  if (!['auto', 'kvm', 'qemu', 'test'].includes(virtType)) throw new Error(`virt type must be auto, kvm, qemu or test, got "${virtType}"`);
  const host = flags.host ?? env['STRATUS_AGENT_HOST'] ?? hostname().split('.')[0];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(host) || host.length > 63) throw new Error(`host name must be a DNS label, got "${host}"`);
  const fenceAfterMs = intValue('STRATUS_FENCE_MS', flags.fenceMs ?? env['STRATUS_FENCE_MS'], FAILOVER_DEFAULTS.fenceMs);
  const renewIntervalMs = intValue('STRATUS_LEASE_RENEW_MS', env['STRATUS_LEASE_RENEW_MS'], Math.min(FAILOVER_DEFAULTS.renewIntervalMs, Math.max(100, Math.floor(fenceAfterMs / 5))));
  const heartbeatIntervalMs = intValue('STRATUS_HEARTBEAT_MS', flags.heartbeatMs ?? env['STRATUS_HEARTBEAT_MS'], Math.min(FAILOVER_DEFAULTS.heartbeatIntervalMs, Math.max(100, Math.floor(fenceAfterMs / 3))));
  const metricsPort = intValue('STRATUS_AGENT_METRICS_PORT', flags.metricsPort ?? env['STRATUS_AGENT_METRICS_PORT'], 0);
  if (metricsPort > 65535) throw new Error(`the metrics port must be at most 65535, got ${metricsPort}`);
  const seeds = (flags.seeds ?? env['STRATUS_AGENT_SEEDS'] ?? 'auto') as AgentConfig['seeds'];
  if (!['auto', 'on', 'off'].includes(seeds)) throw new Error(`STRATUS_AGENT_SEEDS must be auto, on or off, got "${seeds}"`);
  const forwardAddress = env['STRATUS_AGENT_FORWARD_ADDRESS'] ?? '127.0.0.1';
  if (!isIPv4(forwardAddress)) throw new Error(`STRATUS_AGENT_FORWARD_ADDRESS must be an IPv4 address, got "${forwardAddress}"`);
  if (renewIntervalMs >= fenceAfterMs || heartbeatIntervalMs >= fenceAfterMs) {
    throw new Error(`the lease renewal (STRATUS_LEASE_RENEW_MS ${renewIntervalMs} ms) and heartbeat (STRATUS_HEARTBEAT_MS ${heartbeatIntervalMs} ms) periods must be shorter than T_fence (STRATUS_FENCE_MS ${fenceAfterMs} ms)`);
  }
  // A heartbeat counts only if acknowledged within the ack bound: one period must leave room for
  // a second try before T_fence, or one slow write fences the host.
  if (heartbeatIntervalMs + heartbeatAckBoundMs(fenceAfterMs) >= fenceAfterMs) {
    throw new Error(`STRATUS_HEARTBEAT_MS (${heartbeatIntervalMs}) plus the heartbeat ack bound (${heartbeatAckBoundMs(fenceAfterMs)}) must be shorter than STRATUS_FENCE_MS (${fenceAfterMs})`);
  }
  return {
    cassandra,
    host,
    libvirtUri: flags.libvirtUri ?? env['STRATUS_LIBVIRT_URI'] ?? 'qemu:///system',
    labels: parseLabels(flags.labels ?? env['STRATUS_AGENT_LABELS']),
    hollow: intValue('--hollow', flags.hollow ?? env['STRATUS_AGENT_HOLLOW'], 0),
    stateDir: resolve(flags.stateDir ?? env['STRATUS_AGENT_STATE_DIR'] ?? '.stratus/agent'),
    pool: flags.pool ?? env['STRATUS_AGENT_POOL'] ?? 'default',
    virtType,
    logLevel: flags.logLevel ?? env['STRATUS_LOG_LEVEL'] ?? 'info',
    pollIntervalMs: intValue('STRATUS_WATCH_POLL_MS', env['STRATUS_WATCH_POLL_MS'], 250),
    feedRetentionSec: intValue('STRATUS_FEED_RETENTION_SEC', env['STRATUS_FEED_RETENTION_SEC'], 900),
    fenceAfterMs,
    renewIntervalMs,
    heartbeatIntervalMs,
    resyncMs: intValue('STRATUS_AGENT_RESYNC_MS', env['STRATUS_AGENT_RESYNC_MS'], 30_000),
    sampleIntervalMs: intValue('STRATUS_SAMPLE_MS', flags.sampleMs ?? env['STRATUS_SAMPLE_MS'], 10_000),
    accountingFlushMs: intValue('STRATUS_ACCOUNTING_FLUSH_MS', env['STRATUS_ACCOUNTING_FLUSH_MS'], 60_000),
    shutdownGraceMs: intValue('STRATUS_SHUTDOWN_GRACE_MS', env['STRATUS_SHUTDOWN_GRACE_MS'], 60_000),
    libvirtProbeMs: Math.max(100, intValue('STRATUS_LIBVIRT_PROBE_MS', env['STRATUS_LIBVIRT_PROBE_MS'], 5000)),
    sampleTtlSec: intValue('STRATUS_SAMPLE_TTL_SEC', env['STRATUS_SAMPLE_TTL_SEC'], 7 * 86400),
    usageTtlSec: intValue('STRATUS_USAGE_TTL_SEC', env['STRATUS_USAGE_TTL_SEC'], 400 * 86400),
    monitoring: flags.monitoring ?? env['STRATUS_AGENT_MONITORING'] !== '0',
    metricsPort,
    metricsAddress: flags.metricsAddress ?? env['STRATUS_AGENT_METRICS_ADDRESS'] ?? '127.0.0.1',
    workers: Math.max(1, intValue('STRATUS_AGENT_WORKERS', env['STRATUS_AGENT_WORKERS'], 4)),
    console: parseListenAddress('STRATUS_AGENT_CONSOLE_ADDRESS', flags.consoleAddress ?? env['STRATUS_AGENT_CONSOLE_ADDRESS'] ?? '127.0.0.1:0'),
    consoleAdvertise: env['STRATUS_AGENT_CONSOLE_ADVERTISE'] || undefined,
    seeds,
    forwardPorts: parsePortRange('STRATUS_AGENT_FORWARD_PORTS', env['STRATUS_AGENT_FORWARD_PORTS'] || '22000-22999'),
    forwardAddress,
    addressPollMs: intValue('STRATUS_AGENT_ADDRESS_POLL_MS', env['STRATUS_AGENT_ADDRESS_POLL_MS'], 30_000),
    hollowCpus: Math.max(1, intValue('STRATUS_HOLLOW_CPUS', env['STRATUS_HOLLOW_CPUS'], 32)),
    hollowMemoryMiB: Math.max(1, intValue('STRATUS_HOLLOW_MEMORY_MIB', env['STRATUS_HOLLOW_MEMORY_MIB'], 131072)),
    events: loadEventConfig(env),
    network: loadAgentNetworkConfig(env),
  };
}
