/**
 * The agent of one hypervisor, as wiring: buildHostAgent() constructs its parts (no I/O, no timers)
 * and registers them, in start order, with one Manager: the libvirt connection (LibvirtLink:
 * reconnected after a libvirtd restart, reported as the Host's LibvirtConnected condition, never
 * a reason to stop domains), the lease and fencing (once the Host is registered), the heartbeat
 * (once the lease is held), the feed handlers, the VM and Volume controllers (once the caches
 * synced), the periodic sweep (which also finds orphans) and the monitor. Stopping the agent
 * stops them in reverse order and leaves the domains running.
 */
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent';
import {
  Controller, Latch, Manager, Periodic, sleep, systemClock, untilAborted,
  type Clock, type ControllerMetrics, type ReconcileResult, type Runnable,
} from '../runtime';
import type { HostObject, ImageObject, ObjectStore, VolumeObject } from '../store';
import type { LibvirtConnection, LibvirtExecutor } from '../libvirt';
import type { VirtType } from './domain';
import { keyOfDomainName } from './names';
import { HostRegistrar } from './host/registrar';
import { LeaseKeeper, type LeaseBackend } from './host/lease';
import { LibvirtLink, libvirtCondition } from './host/libvirt-link';
import type { PoolCache } from './host/pools';
import { leftoverVolumes, listDomainNames, ownedDomains } from './host/domains';
import { Monitor } from './metrics/monitor';
import type { MetricsStore } from '../store/samples';
import type { HostAgentSnapshot } from './metrics/prometheus';
import { DomainRegistry } from './vm/registry';
import { VmReconciler } from './vm/reconciler';
import { DomainNames } from './vm/domain-names';
import type { RefResolver } from './vm/refs';
import { VmSource } from './vm/source';
import type { HostSource } from './host-source';
import type { HostContext } from './vm/desired';
import { VolumeReconciler } from './volume/reconciler';
import type { ImageCache } from './images/image-cache';
import type { DaemonEndpoint } from '../schemas/types.gen';
import { consoleFilesOf, type ConsoleFiles } from './console/files';
import type { ImageStatusReporter } from './images/image-reporter';
import type { InterfaceAddressSource } from '../libvirt';
import { SeedStore } from './vm/seeds';
import { ForwardPorts } from './host/forwards';
import { AddressPoller } from './vm/address-poller';
import { HostNetworkController } from './network/host-network';
import type { NetworkSources } from './network/sources';
import type { HostNetworkBackend } from './network/types';
import { networkRefOf } from '../kube/networks';
import { jsonEqual } from '../kube/equal';
import type { EventRecorder } from '../runtime/events';
import { API_VERSION } from '../schemas/kinds';
import { FAILOVER_DEFAULTS } from '../config/failover';
import { scanHostDomains, type DebugHost } from './host/debug-domains';
import { FenceGuard } from './host/fence-guard';

/** How many of `items` fall under each key. */
function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

/** The agent's periods and deadlines, in ms (each documented with its variable and default in config/agent.ts). */
export type AgentTimings = Pick<AgentConfig,
  'renewIntervalMs' | 'fenceAfterMs' | 'heartbeatIntervalMs' | 'resyncMs' | 'sampleIntervalMs' | 'accountingFlushMs' | 'shutdownGraceMs' | 'libvirtProbeMs'> & {
  /** how often the Host's capacity and node facts are re-read from libvirt; default 60 000 ms */
  hostFactsRefreshMs: number;
};

/** The failover timings are config/failover.ts's (the margins the controllers check assume them). */
export const DEFAULT_TIMINGS: AgentTimings = {
  renewIntervalMs: FAILOVER_DEFAULTS.renewIntervalMs,
  fenceAfterMs: FAILOVER_DEFAULTS.fenceMs,
  heartbeatIntervalMs: FAILOVER_DEFAULTS.heartbeatIntervalMs,
  resyncMs: 30_000,
  sampleIntervalMs: 10_000,
  accountingFlushMs: 60_000,
  shutdownGraceMs: 60_000,
  libvirtProbeMs: 5000,
  hostFactsRefreshMs: 60_000,
};

export interface HostAgentOptions {
  host: string;
  libvirtUri: string;
  store: ObjectStore;
  source: VmSource;
  /** the Volumes held by (or pinned to) the process's hosts */
  volumes: HostSource<VolumeObject>;
  refs: RefResolver;
  lease: LeaseBackend;
  metrics?: MetricsStore;
  /** the verified local copies of Images (source.url or source.path; shared by the hosts of a process) */
  images?: ImageCache;
  /** where the hosts' findings about their copies go (the Images' status) */
  imageStatus?: ImageStatusReporter;
  /** who holds the lease: the same value after a restart keeps it (default host@machine) */
  holder: string;
  labels?: Record<string, string>;
  /** storage pool for VM disks; default 'default' */
  pool?: string;
  /** where to create the pool when the host has none of that name */
  poolPath: string;
  consoleDir: string;
  /** where the process's console server listens (advertised in the Host's status.daemonEndpoints) */
  consoleEndpoint?: () => DaemonEndpoint | undefined;
  /** the folder of this host's cloud-init seed ISOs */
  seedDir: string;
  /** build a seed per VM: 'auto' (the default) on real hosts only, 'on' on the test driver too, 'off' never */
  seeds?: 'auto' | 'on' | 'off';
  /** real hosts: where the guests' SSH ports are forwarded from; default 127.0.0.1, ports 22000-22999 */
  forwards?: { address: string; from: number; to: number };
  /** the address poller: how often a guest with addresses is asked again (default 30 000 ms; 0: never), while it has none (default 2000 ms), and where (default agent, then lease) */
  addresses?: { steadyMs?: number; fastMs?: number; sources?: InterfaceAddressSource[] };
  /** 'auto': test for test:// URIs, kvm when libvirt offers it, else qemu (TCG) */
  virtType?: VirtType | 'auto';
  defaultDiskBytes?: number;
  timings?: Partial<AgentTimings>;
  /**
   * The fence guard of real (qemu) hosts (host/fence-guard.ts): false for none; default on for
   * non-test URIs, running fence-guard-main.js next to the built agent
   */
  fenceGuard?: false | { command?: string[] };
  /** concurrent reconciles; default 4 */
  workers?: number;
  /** concurrent status writes; default 8 */
  statusWriters?: number;
  executor?: LibvirtExecutor;
  agentVersion?: string;
  /** reported as nodeInfo.hostname (hollow hosts), default libvirt's */
  hostname?: string;
  logger: Logger;
  clock?: Clock;
  /** random source of the sweep's jitter and the monitor's spread; default Math.random */
  random?: () => number;
  controllerMetrics?: ControllerMetrics;
  /** records what the host's agent does (core/v1 Events on its VMs and its Host): default nothing */
  events?: EventRecorder;
  /**
   * The host side of Networks: the process's Network/SecurityGroup/Host caches, this host's
   * backend (linux or none), its underlay address (or how to find it) and the repair period
   */
  network: { sources: NetworkSources; backend: HostNetworkBackend; address?: string | (() => Promise<string | undefined>); repairMs?: number };
}

/** One host's agent, as the process and its tests see it: run it, ask how it is. */
export interface HostAgent extends Runnable {
  readonly host: string;
  /** resolves once the agent reconciles VMs (lease held, caches synced) */
  readonly ready: Promise<void>;
  /** why this host does not run VMs right now, or undefined when it does (for /readyz) */
  notReady(): string | undefined;
  /** what the Prometheus metrics report about this host, read at each scrape */
  snapshot(): HostAgentSnapshot;
  /** the current libvirt connection (undefined before the first one and during an outage) */
  readonly conn: LibvirtConnection | undefined;
  /** whether the agent runs libvirt domain `domain` (benches) */
  hasDomain(domain: string): boolean;
  /** where VM `namespace/name`'s console lives on this host (its socket, log: console/files.ts) */
  consoleFiles(namespace: string, name: string): ConsoleFiles;
  /** one pass of the periodic sweep, now */
  sweep(): Promise<void>;
  /** the host side of the VMs' Networks (its backend, its last apply) */
  readonly network: HostNetworkController;
  /** what libvirt reports now, after any fence due (GET /debug/domains: host/debug-domains.ts) */
  debugDomains(): Promise<DebugHost>;
}

/** Builds the agent of host `o.host`; nothing runs until start(signal). */
export function buildHostAgent(o: HostAgentOptions): HostAgent {
  const host = o.host;
  const t: AgentTimings = { ...DEFAULT_TIMINGS, ...(o.timings ?? {}) };
  const clock = o.clock ?? systemClock;
  const log = o.logger.child({ host });
  const pool = o.pool ?? 'default';
  const registry = new DomainRegistry();
  /** names of the domains on the current connection (lets a new VM skip a look-up) */
  const domainNames = new DomainNames();
  const connected = new Latch();
  const running = new Latch();
  let virtType: VirtType = 'test'; // detected once connected, before anything reads it
  /** the Host as registered (its uid is the reference of the host's events) */
  let hostObject: HostObject | undefined;

  const link: LibvirtLink = new LibvirtLink({
    uri: o.libvirtUri, executor: o.executor, pool, poolPath: o.poolPath, clock, logger: log,
    probeIntervalMs: t.libvirtProbeMs,
    onEvent: (e) => onLifecycleEvent(e.name, e.event),
    onLost: (): Promise<void> => registrar.requestBeat(),
    onRestored: () => onLibvirtRestored(),
  });
  const conn = (): LibvirtConnection => link.conn;
  const pools: PoolCache = link.pools;
  const keeper = new LeaseKeeper({
    host, holder: o.holder, backend: o.lease, logger: log, clock,
    renewIntervalMs: t.renewIntervalMs, fenceAfterMs: t.fenceAfterMs,
    onFence: () => fenceAll(),
    onResume: () => enqueueAll(),
    onAliveFor: (ms) => guard?.extend(ms),
  });
  // Real guests outlive a frozen or killed agent: a guard process fences them at the same deadline.
  const guard = o.fenceGuard !== false && !o.libvirtUri.startsWith('test:')
    ? new FenceGuard({ uri: o.libvirtUri, host, logger: log, command: o.fenceGuard?.command })
    : undefined;
  const registrar: HostRegistrar = new HostRegistrar({
    host, store: o.store, conn, pools, pool, labels: o.labels ?? {}, libvirtUri: o.libvirtUri,
    agentVersion: o.agentVersion ?? '0.1.0', hostname: o.hostname,
    hypervisor: () => ({ name: virtType === 'test' ? 'Test' : 'QEMU', kvm: virtType === 'kvm' }),
    endpoints: () => {
      const console = o.consoleEndpoint?.();
      return console ? { console } : undefined;
    },
    conditions: () => [libvirtCondition(link.state, o.libvirtUri)],
    networking: () => {
      const caps = network.capabilities();
      if (!caps) return undefined;
      const address = network.address;
      return {
        networking: { backend: network.backend.name, modes: caps.modes, interfaces: caps.interfaces },
        addresses: address ? [{ type: 'InternalIP', address }] : null,
        networks: network.report(),
      };
    },
    keeper, clock, heartbeatIntervalMs: t.heartbeatIntervalMs, capacityRefreshMs: t.hostFactsRefreshMs, logger: log,
  });
  const images = o.images;
  /** This host's copy of an Image, verified, and reported in the Image's status. */
  function imageCopy(img: ImageObject): ReturnType<ImageCache['state']> {
    const st = images?.state(img);
    if (st) o.imageStatus?.note(img, host, st);
    return st;
  }
  const seeds = new SeedStore({ dir: o.seedDir });
  const seedsOn = (): boolean => o.seeds === 'on' || (o.seeds !== 'off' && virtType !== 'test');
  const fwd = o.forwards ?? { address: '127.0.0.1', from: 22000, to: 22999 };
  const forwards = new ForwardPorts(fwd);
  const hostContext = (): HostContext => ({
    ...(images ? { images: (img: ImageObject) => imageCopy(img) } : {}),
    host, virtType, consoleDir: o.consoleDir, pool, poolPaths: pools.paths(),
    defaultDiskBytes: o.defaultDiskBytes ?? 10 * 1024 ** 3,
    network: (namespace: string, name: string) => o.network.sources.network(namespace, name),
    ...(seedsOn() ? { seedDir: seeds.dir } : {}),
    ...(virtType !== 'test' ? { forward: { address: forwards.address, portOf: (key: string) => forwards.get(key) } } : {}),
  });
  const volumes = new VolumeReconciler({
    host, store: o.store, pools, volumes: o.volumes, vms: o.source, refs: o.refs, hostContext,
    fenced: () => keeper.fenced(), clock, logger: log,
  });
  /** The VMs bound here that have an interface on Network `namespace/name`. */
  function vmsOnNetwork(namespace: string, name: string): string[] {
    return o.source.objectsOf(host)
      .filter((vm) => (vm.spec.networks ?? []).some((n) => {
        const ref = networkRefOf(vm.metadata.namespace ?? '', n);
        return ref?.namespace === namespace && ref.name === name;
      }))
      .map((vm) => `${vm.metadata.namespace}/${vm.metadata.name}`);
  }
  const onNetworks = (vm: { spec: { networks?: { network?: string }[] } }): boolean => (vm.spec.networks ?? []).some((n) => n.network);
  const network: HostNetworkController = new HostNetworkController({
    host, backend: o.network.backend, sources: o.network.sources, address: o.network.address, repairMs: o.network.repairMs,
    vms: () => o.source.objectsOf(host), vmsSynced: (s) => o.source.waitForSync(s), clock, logger: log,
    // The networks' state changed: tell the other hosts (VXLAN remotes) and retry the VMs waiting for it.
    onReport: () => {
      void registrar.requestBeat();
      for (const vm of o.source.objectsOf(host)) if (onNetworks(vm)) controller.enqueue(`${vm.metadata.namespace}/${vm.metadata.name}`);
    },
  });
  const reconciler: VmReconciler = new VmReconciler({
    host, store: o.store, conn, pools, source: o.source, refs: o.refs, registry,
    fenced: () => keeper.fenced(), clock, shutdownGraceMs: t.shutdownGraceMs, logger: log,
    requeue: (key) => controller.queue.addRateLimited(key),
    cacheFresh: () => o.source.freshSince() > keeper.heldSince(),
    statusWriters: o.statusWriters,
    busy: (): boolean => controller.queue.len() > 0,
    domains: domainNames,
    hostContext,
    claimVolume: (namespace, name) => volumes.claim(namespace, name),
    freshVolume: (namespace, name) => volumes.latest(`${namespace}/${name}`),
    events: o.events,
    seeds, forwards,
    networks: network,
  });
  const addresses = new AddressPoller({
    host, store: o.store, source: o.source, conn: () => link.connection, forwards: { get: (key) => (virtType !== 'test' ? forwards.get(key) : undefined), address: forwards.address },
    sources: o.addresses?.sources, fastMs: o.addresses?.fastMs, steadyMs: o.addresses?.steadyMs, clock, logger: log,
  });
  const controller: Controller = new Controller({
    name: `vm@${host}`, reconciler: (k, ctx): Promise<ReconcileResult> => whileConnected(() => reconciler.reconcile(k, ctx)), workers: o.workers ?? 4,
    logger: log, clock, resyncPeriodMs: 0, metrics: o.controllerMetrics,
  });
  const volumeController: Controller = new Controller({
    name: `volume@${host}`, reconciler: (k, ctx): Promise<ReconcileResult> => whileConnected(() => volumes.reconcile(k, ctx)), workers: 2,
    logger: log, clock, resyncPeriodMs: 0, metrics: o.controllerMetrics,
  });
  const monitor = o.metrics && new Monitor({
    host, conn, pools, pool, registry, metrics: o.metrics, clock, random: o.random,
    intervalMs: t.sampleIntervalMs, accountingFlushMs: t.accountingFlushMs, logger: log,
  });

  /**
   * Runs a reconcile only while libvirt is connected: during an outage nothing can be observed or
   * done, and every key is reconciled again once the connection is back (onLibvirtRestored).
   * A failure that may mean a lost connection gets the connection probed at once.
   */
  async function whileConnected(run: () => Promise<ReconcileResult>): Promise<ReconcileResult> {
    if (!link.connected) return {};
    try {
      return await run();
    } catch (err) {
      link.suspect(err);
      throw err;
    }
  }

  /** A lifecycle event, except those the agent's own actions caused: reconcile its VM. */
  function onLifecycleEvent(domain: string, event: string): void {
    if (event === 'defined') domainNames.add(domain);
    else if (event === 'undefined') domainNames.delete(domain);
    const key = keyOfDomainName(domain);
    if (key && !reconciler.consumeExpectedEvent(domain, event)) controller.enqueue(key);
  }

  /**
   * A new libvirt connection is up: report it, then look at everything again (the daemon may
   * have lost or changed domains meanwhile; events of the outage were missed).
   */
  function onLibvirtRestored(): void {
    domainNames.invalidate(); // the sweep lists the new connection
    void registrar.requestBeat();
    if (!running.isOpen) return;
    sweep().catch((err) => log.warn({ err: String(err) }, 'sweep after reconnecting to libvirt failed'));
  }

  /** Queues every VM bound here and every Volume held here. */
  function enqueueAll(): void {
    for (const k of o.source.keysOf(host)) controller.enqueue(k);
    for (const k of o.volumes.keysOf(host)) volumeController.enqueue(k);
  }

  /** Fencing: destroys every running domain of ours, straight through libvirt (no Cassandra). */
  async function fenceAll(): Promise<void> {
    const owned = await ownedDomains(link.conn, host, domainNames);
    await Promise.all(owned.filter((d) => d.active).map((d) => d.destroy().catch((err) => log.error({ vm: d.key, err: String(err) }, 'fencing could not destroy a domain'))));
    log.error({ stopped: owned.filter((d) => d.active).map((d) => d.key) }, 'fenced: stopped every domain');
    // Written once Cassandra answers again (the recorder's queue holds them meanwhile).
    const why = `host ${host} could not renew its lease for ${Math.round(t.fenceAfterMs / 1000)}s`;
    o.events?.event(hostObject ?? { apiVersion: API_VERSION, kind: 'Host', metadata: { name: host } }, 'Warning', 'Fenced', `${why}: stopped its domains`);
    for (const d of owned.filter((x) => x.active)) {
      const vm = o.source.boundTo(host, d.key);
      if (vm) o.events?.event(vm, 'Warning', 'Fenced', `${why}: stopped the domain`);
    }
    for (const d of owned) controller.enqueue(d.key);
  }

  /** The SSH ports the host's domains hold (their metadata): never given to another VM. */
  function claimPorts(owned: { key: string; sshPort?: number }[]): void {
    for (const d of owned) if (d.sshPort !== undefined) forwards.claim(d.key, d.sshPort);
  }

  /** One pass of the sweep: every bound VM and held Volume, every owned domain, leftover volumes. */
  async function sweep(): Promise<void> {
    enqueueAll();
    const owned = await ownedDomains(link.conn, host, domainNames);
    claimPorts(owned);
    for (const d of owned) controller.enqueue(d.key);
    for (const [key, vols] of await leftoverVolumes(pools, pool, (k) => o.source.boundTo(host, k))) {
      reconciler.leftovers.set(key, vols);
      controller.enqueue(key);
    }
  }

  async function detectVirtType(c: LibvirtConnection): Promise<VirtType> {
    const want = o.virtType ?? 'auto';
    if (want !== 'auto') return want;
    if (o.libvirtUri.startsWith('test:')) return 'test';
    const caps = await c.getCapabilities();
    return /<domain type=['"]kvm['"]/.test(caps) ? 'kvm' : 'qemu';
  }

  /** Registers the Host, retrying while Cassandra is unreachable; false if stopped first. */
  async function register(signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        hostObject = await registrar.register();
        return true;
      } catch (err) {
        log.warn({ err: String(err) }, 'registering the host failed; retrying');
        await sleep(clock, Math.min(10_000, 500 * 2 ** attempt), signal);
      }
    }
    return false;
  }

  const manager = new Manager({ logger: log, clock, name: `host/${host}` });
  manager.add({
    name: 'libvirt',
    async start(signal) {
      try {
        if (!(await link.connect(signal))) return;
        virtType = await detectVirtType(link.conn);
        connected.open();
        await link.start(signal);
      } finally {
        await link.close();
      }
    },
  });
  if (guard) manager.add(guard, 'fence-guard');
  // Register, then hold the lease before running anything.
  manager.add(keeper, { name: 'lease', after: async (s) => (await connected.wait(s)) && register(s) });
  manager.add(registrar, { name: 'heartbeat', after: (s) => keeper.waitHeld(s) });
  // Changes of bound VMs (and so of the Volumes they use) and of the Volumes held here, except
  // the agent's own writes coming back through the feed.
  manager.add({
    name: 'feed',
    async start(signal) {
      const offVms = o.source.register(host, (key, obj, change) => {
        if (change === 'update' && reconciler.isOwnWrite(key, obj)) return;
        controller.enqueue(key);
        for (const v of VmSource.volumeKeys(obj)) volumeController.enqueue(v);
        if (onNetworks(obj)) network.schedule();
      });
      // Networks, security groups and hosts: rebuild what this host builds; a Network that comes,
      // goes or changes its spec (MTU) also changes the domains of its VMs.
      const offNetworks = o.network.sources.onChange((kind, obj, before) => {
        if (kind === 'Network' && (!before || before.metadata.uid !== obj.metadata.uid || !jsonEqual(before.spec, obj.spec))) {
          for (const k of vmsOnNetwork(obj.metadata.namespace ?? '', obj.metadata.name)) controller.enqueue(k);
        }
        if (network.concerned()) network.schedule();
      });
      const offVolumes = o.volumes.register(host, (key, obj, change) => {
        if (change === 'update' && volumes.isOwnWrite(key, obj)) return;
        volumeController.enqueue(key);
      });
      await untilAborted(signal);
      offVms();
      offVolumes();
      offNetworks();
    },
  });
  // The host networks before the VMs: a VM's reconcile waits for its taps (HostNetworkController.ensure).
  manager.add(network, 'host-network');
  manager.add(controller, {
    name: 'vm-controller',
    after: async (s) => {
      if (!(await o.source.waitForSync(s)) || !(await o.volumes.waitForSync(s))) return false;
      // Real hosts: the SSH ports of the domains defined before this agent started stay theirs.
      if (virtType !== 'test') {
        await ownedDomains(link.conn, host, domainNames).then(claimPorts, (err) => log.warn({ err: String(err) }, 'listing domains failed; looking each up'));
      } else {
        await listDomainNames(link.conn, domainNames).catch((err) => log.warn({ err: String(err) }, 'listing domains failed; looking each up'));
      }
    },
  });
  manager.add(volumeController, 'volume-controller');
  // Everything once now; and again when a download ends: the VMs and Volumes waiting for it (or told it failed).
  manager.add({
    name: 'images',
    async start(signal) {
      const off = images?.onSettled(() => enqueueAll());
      enqueueAll();
      await untilAborted(signal);
      off?.();
    },
  });
  manager.add(new Periodic({
    name: 'sweep', periodMs: t.resyncMs, jitter: 0.1, clock, random: o.random, logger: log, errorMessage: 'sweep failed',
    run: async () => {
      if (link.connected) await sweep(); // else the reconnection sweeps once libvirt is back
    },
  }));
  if (monitor) manager.add(monitor, 'monitor');
  if ((o.addresses?.steadyMs ?? 30_000) > 0) {
    manager.add(new Periodic({
      name: 'addresses', periodMs: addresses.periodMs, jitter: 0.1, clock, random: o.random, logger: log, errorMessage: 'reading guest addresses failed',
      run: async () => {
        if (link.connected) await addresses.poll();
      },
    }));
  }

  const ready = manager.started.then(() => {
    running.open();
    log.info({ uri: o.libvirtUri, virtType }, 'agent running');
  });

  return {
    host,
    ready,
    start: (signal) => manager.start(signal),
    notReady() {
      if (!running.isOpen) return 'starting';
      if (keeper.state !== 'held') return `lease ${keeper.state}`;
      const l = link.state;
      if (!l.connected) return `libvirt ${l.reason}: ${l.message}`;
      return undefined;
    },
    snapshot: () => ({
      host,
      lease: connected.isOpen ? keeper.state : 'starting',
      fences: keeper.fences,
      domains: registry.size,
      statusQueueDepth: reconciler.statusJobs.size,
      libvirtConnected: link.connected,
      libvirtReconnects: link.reconnects,
      volumes: countBy(o.volumes.objectsOf(host), (v) => v.status?.phase ?? 'Pending'),
    }),
    get conn() {
      return link.connection;
    },
    hasDomain: (domain) => registry.get(domain) !== undefined,
    consoleFiles: (namespace, name) => consoleFilesOf(o.consoleDir, virtType, namespace, name),
    sweep,
    network,
    debugDomains: () => scanHostDomains({ host, conn: link.connection, keeper, started: connected.isOpen }),
  };
}
