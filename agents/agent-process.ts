/**
 * AgentProcess: the agents of one process (one real host, or N hollow ones) and what they share:
 * the object store, ONE VmSource (one change-feed poller for the whole process, dispatching by
 * status.host), ONE Volume source (the Volumes held by or pinned to these hosts), the
 * Image/Volume look-up cache, the lease and metrics stores, the libvirt
 * worker pool. Hollow hosts each get their own isolated test-driver hypervisor
 * (test:///ABS/host.xml).
 */
import { setMaxListeners } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ObjectStore, VolumeObject } from '../store';
import { Manager, sleep, systemClock, untilAborted, type Clock, type ControllerMetrics } from '../runtime';
import { defaultExecutor, writeTestHost, type LibvirtExecutor } from '../libvirt';
import type { VirtType } from './domain';
import { buildHostAgent, type AgentTimings, type HostAgent, type HostAgentOptions } from './host-agent';
import type { LeaseBackend } from './host/lease';
import type { LeaseRepository } from '../store/leases';
import type { MetricsStore } from '../store/samples';
import { AgentMetrics } from './metrics/prometheus';
import { RefResolver } from './vm/refs';
import { VmSource } from './vm/source';
import { volumeHost } from './vm/desired';
import { HostSource } from './host-source';
import { ImageCache } from './images/image-cache';
import { HOLLOW_HOST_LABEL } from '../kube/names';
import { ConsoleServer, type ConsoleServerOptions } from './console/server';
import { ImageStatusReporter } from './images/image-reporter';
import type { EventBroadcaster } from '../runtime/events';
import { API_VERSION } from '../schemas/kinds';
import { NetworkSources } from './network/sources';
import { LinuxNetworkBackend, type LinuxNetworkBackendOptions } from './network/linux';
import { NoneNetworkBackend } from './network/none';
import { defaultRouteSource } from './network/underlay';
import type { HostNetworkBackend } from './network/types';
import type { AgentNetworkConfig } from '../config/agent';
import { debugDomainsHandler, type DebugDomainsReport } from './host/debug-domains';

export interface HostSpecForProcess {
  name: string;
  libvirtUri: string;
  labels?: Record<string, string>;
  /** nodeInfo.hostname to report (hollow hosts) */
  hostname?: string;
}

export interface AgentProcessOptions {
  store: ObjectStore;
  /** the host leases (the 'host' family) */
  leases: LeaseRepository;
  /** where monitoring samples and accounting go; none: no monitoring */
  samples?: MetricsStore;
  hosts: HostSpecForProcess[];
  stateDir: string;
  pool?: string;
  virtType?: VirtType | 'auto';
  timings?: Partial<AgentTimings>;
  workers?: number;
  /** concurrent status writes per host; default 8 */
  statusWriters?: number;
  pollIntervalMs?: number;
  executor?: LibvirtExecutor;
  /** what the lease keepers use; default `leases` (tests wrap it to simulate failures) */
  lease?: LeaseBackend;
  logger: Logger;
  clock?: Clock;
  /** random source of the hosts' jitter; default Math.random */
  random?: () => number;
  /** start hosts over this long, so N hollow hosts do not all renew in step; default min(N*10, 10000) ms */
  startSpreadMs?: number;
  /** cloud-init seed ISOs per VM: 'auto' (default: real hosts only), 'on' (the test driver too), 'off' */
  seeds?: 'auto' | 'on' | 'off';
  /** real hosts: where the guests' SSH ports are forwarded from; default 127.0.0.1, ports 22000-22999 */
  forwards?: { address: string; from: number; to: number };
  /** the address poller's periods and sources (HostAgentOptions.addresses) */
  addresses?: HostAgentOptions['addresses'];
  /**
   * The console server (serial consoles, VNC, console logs for the frontends: console/server.ts):
   * where it listens and the cluster's console key; none: the hosts serve no consoles
   */
  console?: { address: string; port: number; advertise?: string; key: Uint8Array; followPollMs?: number; onSession?: ConsoleServerOptions['onSession'] };
  /** the process's events (main.ts: over store/events.ts); each host reports as stratus-agent from its own name */
  events?: EventBroadcaster;
  /** Prometheus registry: when given, the process's metrics (libvirt calls, hosts, reconciles) are registered on it */
  registry?: Registry;
  /** reconcile metrics; default those of `registry`, if any */
  controllerMetrics?: ControllerMetrics;
  /** the host side of Networks (config/agent.ts, STRATUS_NETWORK_*); default auto, no uplinks, the default route's address */
  network?: Partial<AgentNetworkConfig>;
  /** the network backend of each host, instead of the one `network.backend` picks (tests) */
  networkBackend?: (host: HostSpecForProcess) => HostNetworkBackend;
}

/** Writes the node files of N hollow hosts and returns their specs (names <prefix>-0000...). */
export async function hollowHosts(o: { prefix: string; count: number; dir: string; cpus: number; memoryMiB: number; labels?: Record<string, string> }): Promise<HostSpecForProcess[]> {
  await mkdir(o.dir, { recursive: true });
  const width = Math.max(4, String(o.count - 1).length);
  const out: HostSpecForProcess[] = [];
  for (let i = 0; i < o.count; i++) {
    const name = `${o.prefix}-${String(i).padStart(width, '0')}`;
    const uri = await writeTestHost(join(o.dir, `${name}.xml`), {
      cpus: o.cpus,
      memoryKiB: o.memoryMiB * 1024,
      pools: [{ name: 'default', path: `/var/lib/stratus/hollow/${name}` }],
    });
    out.push({ name, libvirtUri: uri, labels: { ...(o.labels ?? {}), [HOLLOW_HOST_LABEL]: 'true' }, hostname: name });
  }
  return out;
}

export class AgentProcess {
  readonly source: VmSource;
  /** the Volumes whose storage is (or is to be) on this process's hosts */
  readonly volumes: HostSource<VolumeObject>;
  readonly images: ImageCache;
  readonly imageStatus: ImageStatusReporter;
  readonly refs: RefResolver;
  readonly leases: LeaseRepository;
  readonly metrics?: MetricsStore;
  /** the Prometheus metrics, when a registry was given */
  readonly prometheus?: AgentMetrics;
  readonly agents: HostAgent[];
  /** serves the consoles of the VMs of these hosts, when configured */
  readonly consoleServer?: ConsoleServer;
  /** the Networks, SecurityGroups and Hosts, one informer each for every host of the process */
  readonly networkSources: NetworkSources;
  private readonly clock: Clock;

  constructor(private readonly o: AgentProcessOptions) {
    this.clock = o.clock ?? systemClock;
    this.source = new VmSource({ store: o.store, hosts: o.hosts.map((h) => h.name), logger: o.logger, clock: o.clock, pollIntervalMs: o.pollIntervalMs });
    this.volumes = new HostSource<VolumeObject>({
      store: o.store, kind: 'Volume', hosts: o.hosts.map((h) => h.name), hostOf: (v) => volumeHost(v),
      logger: o.logger, clock: o.clock, pollIntervalMs: o.pollIntervalMs,
    });
    this.refs = new RefResolver({ store: o.store, clock: o.clock });
    // Images: downloaded (source.url) and verified once for all the hosts of this process; with
    // a real host among them, probed with qemu-img and a source.path must exist.
    const real = o.hosts.some((h) => !h.libvirtUri.startsWith('test:'));
    this.images = new ImageCache({ dir: join(o.stateDir, 'images'), logger: o.logger, clock: o.clock, probe: real });
    this.imageStatus = new ImageStatusReporter({ store: o.store, logger: o.logger, clock: o.clock });
    this.leases = o.leases;
    this.metrics = o.samples;
    if (o.registry) {
      this.prometheus = new AgentMetrics({ registry: o.registry, executor: o.executor ?? defaultExecutor(), hosts: () => this.agents.map((a) => a.snapshot()) });
    }
    const controllerMetrics = o.controllerMetrics ?? this.prometheus?.controllers;
    const machine = hostname();
    this.consoleServer = o.console ? this.buildConsoleServer(o.console) : undefined;
    // polled at most once a second: a network change seen a second later costs nothing, while
    // every agent polling three more feeds at the VM feed's pace loads Cassandra on a busy cluster
    this.networkSources = new NetworkSources({ store: o.store, logger: o.logger, clock: o.clock, pollIntervalMs: Math.max(o.pollIntervalMs ?? 250, 1000) });
    const net = o.network ?? {};
    // The underlay address: found once for the whole process (hollow hosts share the machine's).
    let found: Promise<string | undefined> | undefined;
    const address = net.address ?? (() => (found ??= defaultRouteSource(net.netns)));
    this.agents = o.hosts.map((h) => buildHostAgent({
      host: h.name, libvirtUri: h.libvirtUri, labels: h.labels, hostname: h.hostname,
      store: o.store, source: this.source, volumes: this.volumes, refs: this.refs, lease: o.lease ?? this.leases, metrics: this.metrics,
      images: this.images, imageStatus: this.imageStatus,
      holder: `${h.name}@${machine}`,
      pool: o.pool, poolPath: join(o.stateDir, 'pools', o.pool ?? 'default'), consoleDir: join(o.stateDir, 'console'),
      consoleEndpoint: () => this.consoleServer?.endpoint,
      seedDir: join(o.stateDir, 'seeds', h.name), seeds: o.seeds, forwards: o.forwards, addresses: o.addresses,
      events: this.recorderOf(h.name),
      virtType: o.virtType, timings: o.timings, workers: o.workers, statusWriters: o.statusWriters, executor: o.executor,
      logger: o.logger, clock: o.clock, random: o.random, controllerMetrics,
      network: { sources: this.networkSources, backend: o.networkBackend?.(h) ?? this.networkBackend(h, net), address, repairMs: net.repairMs },
    }));
  }

  /**
   * The network backend of host `h`: linux or none as configured; auto picks linux on a real
   * hypervisor when the agent runs as root, else none (on a real host without root it reports no
   * modes, so placement sends it no VM on a Network; on the test driver it simulates nat and overlay).
   */
  private networkBackend(h: HostSpecForProcess, net: Partial<AgentNetworkConfig>): HostNetworkBackend {
    const real = !h.libvirtUri.startsWith('test:');
    const root = process.getuid?.() === 0;
    const kind = net.backend && net.backend !== 'auto' ? net.backend : real && root ? 'linux' : 'none';
    if (kind === 'linux') {
      // tapOwner: the user qemu runs as owns the taps the backend makes (a session libvirtd opens them)
      const opts: LinuxNetworkBackendOptions & { tapOwner?: number } = { netns: net.netns, uplinks: net.uplinks, tapOwner: net.tapOwner, logger: this.o.logger.child({ host: h.name }) };
      return new LinuxNetworkBackend(opts);
    }
    return new NoneNetworkBackend({ interfaces: net.uplinks, ...(real && net.backend !== 'none' ? { modes: [] } : {}) });
  }

  /** Builds the console server of the process's hosts (in the constructor: no I/O until started). */
  private buildConsoleServer(c: NonNullable<AgentProcessOptions['console']>): ConsoleServer {
    const byHost = (host: string): HostAgent | undefined => this.agents.find((a) => a.host === host);
    const names = this.o.hosts.map((h) => h.name);
    return new ConsoleServer({
      address: c.address, port: c.port, advertise: c.advertise, key: c.key, followPollMs: c.followPollMs,
      onSession: (s) => {
        c.onSession?.(s);
        if (s.channel === 'log') return; // reading the console log is no console session
        this.recorderOf(s.host)?.event({ apiVersion: API_VERSION, kind: 'VirtualMachine', metadata: { name: s.name, namespace: s.namespace, uid: s.uid } },
          'Normal', 'ConsoleConnected', `a ${s.channel === 'vnc' ? 'VNC' : 'serial'} console session was opened on host ${s.host}`);
      },
      hosts: () => names,
      vm: (host, key) => this.source.boundTo(host, key),
      files: (host, namespace, name) => byHost(host)?.consoleFiles(namespace, name),
      logger: this.o.logger, clock: this.o.clock,
    });
  }

  /** The event recorder of one host of the process (undefined without events). */
  private recorderOf(host: string) {
    return this.o.events?.recorder({ component: 'stratus-agent', host, controller: 'stratuslab.eu/agent', instance: host });
  }

  /**
   * GET /debug/domains of the process's metrics server (host/debug-domains.ts): what libvirt
   * reports now for every host, each listed after any fence due has stopped its domains.
   */
  readonly debugDomainsHandler = debugDomainsHandler(() => this.debugDomains());

  /** What libvirt reports now for every host of the process (the body of GET /debug/domains). */
  async debugDomains(): Promise<DebugDomainsReport> {
    return { hosts: await Promise.all(this.agents.map((a) => a.debugDomains())) };
  }

  /** Resolves once every host reconciles VMs. */
  ready(): Promise<void> {
    return Promise.all(this.agents.map((a) => a.ready)).then(() => undefined);
  }

  /** Why the process is not ready (the first host that is not), or undefined when every host runs. */
  notReady(): string | undefined {
    for (const a of this.agents) {
      const why = a.notReady();
      if (why) return `host ${a.host}: ${why}`;
    }
    return undefined;
  }

  /**
   * Registers the process's runnables with `manager`, in start order: the VM and Volume sources
   * (after the state directory exists), then the hosts (stopped first).
   */
  addTo(manager: Manager): Manager {
    if (this.o.events) manager.add(this.o.events, 'events');
    return manager
      .add(this.source, { name: 'vm-source', after: () => mkdir(join(this.o.stateDir, 'console'), { recursive: true }).then(() => true) })
      .add(this.volumes, 'volume-source')
      .add(this.networkSources, 'network-sources')
      // The console server before the hosts: they advertise where it listens from their first heartbeat.
      .add(this.consoleServer ?? { name: 'no-console-server', start: untilAborted }, 'console-server')
      .add({ name: 'hosts', start: (signal) => this.runHosts(signal) }, { after: (s) => this.consoleServer?.waitListening(s) ?? Promise.resolve(true) });
  }

  /** Runs the process on a manager of its own (tests, benches; main.ts uses addTo). */
  start(signal: AbortSignal): Promise<void> {
    return this.addTo(new Manager({ logger: this.o.logger, clock: this.clock })).start(signal);
  }

  /**
   * Starts the hosts spread over startSpreadMs (so N hollow hosts do not all renew in step) and
   * runs them until `signal` aborts. A host that fails is logged and leaves the others running;
   * the process fails only when every host ended before the signal.
   */
  private async runHosts(signal: AbortSignal): Promise<void> {
    const n = this.agents.length;
    const spread = this.o.startSpreadMs ?? Math.min(n * 10, 10_000);
    // Each host gets its own signal (its loops each listen for the abort).
    setMaxListeners(n + 16, signal);
    const runs = this.agents.map(async (a, i) => {
      if (n > 1 && spread > 0) await sleep(this.clock, (spread * i) / n, signal);
      if (signal.aborted) return;
      const own = new AbortController();
      setMaxListeners(64, own.signal);
      signal.addEventListener('abort', () => own.abort(), { once: true });
      try {
        await a.start(own.signal);
      } catch (err) {
        this.o.logger.error({ host: a.host, err: String(err) }, 'host agent failed');
        throw err;
      }
    });
    const results = await Promise.allSettled(runs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && !signal.aborted) throw failed.reason;
  }
}
