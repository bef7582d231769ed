/**
 * HostAgent: everything one hypervisor needs, wired together: the libvirt connection and pools
 * (LibvirtLink: reconnected after a libvirtd restart, reported as the Host's LibvirtConnected
 * condition, never a reason to stop domains), the Host registration and heartbeat, the lease
 * and fencing, the VM reconciler (fed by the process's shared VmSource, libvirt lifecycle events
 * and a periodic sweep that also finds orphans), the Volume reconciler (storage of the Volumes
 * held here, their status and deletion), and the monitor. start(signal) runs it until the
 * signal aborts; stopping the agent leaves the domains running.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { Controller, sleep, systemClock, type Clock, type ControllerMetrics, type ReconcileResult } from '../runtime';
import type { ObjectStore } from '../store';
import type { VolumeStatus } from '../schemas/types.gen';
import type { LibvirtConnection, LibvirtExecutor } from '../libvirt';
import { OWNER_NS, parseOwner, type VirtType } from './domain';
import { keyOfDomainName, parseVmVolumeName, uidTag } from './names';
import { HostRegistrar } from './host/registrar';
import { LeaseKeeper } from './host/lease';
import type { LeaseBackend } from './host/lease-store';
import type { PoolCache } from './host/pools';
import { LibvirtLink, libvirtCondition } from './host/libvirt-link';
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
import type { Image } from '../schemas/types.gen';

/** How many of `items` fall under each key. */
function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

export interface AgentTimings {
  /** lease renewal period; default 5000 ms */
  renewIntervalMs: number;
  /** T_fence; default 30 000 ms */
  fenceAfterMs: number;
  /** Host status.heartbeatTime period; default 10 000 ms */
  heartbeatIntervalMs: number;
  /** re-reconcile every VM and look for orphans this often; default 30 000 ms */
  resyncMs: number;
  /** monitoring sample period; default 10 000 ms */
  sampleIntervalMs: number;
  /** accounting write period; default 60 000 ms */
  accountingFlushMs: number;
  /** graceful shutdown before destroy; default 60 000 ms */
  shutdownGraceMs: number;
  /** how often the libvirt connection is probed (virConnectIsAlive); default 5000 ms */
  libvirtProbeMs: number;
  /** how often the Host's capacity and node facts are re-read from libvirt; default 60 000 ms */
  hostFactsRefreshMs: number;
}

export const DEFAULT_TIMINGS: AgentTimings = {
  renewIntervalMs: 5000,
  fenceAfterMs: 30_000,
  heartbeatIntervalMs: 10_000,
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
  volumes: HostSource;
  refs: RefResolver;
  lease: LeaseBackend;
  metrics?: MetricsStore;
  /** local copies of Images with a source.url (shared by the hosts of a process) */
  images?: ImageCache;
  /** who holds the lease: the same value after a restart keeps it (default host@machine) */
  holder: string;
  labels?: Record<string, string>;
  /** storage pool for VM disks; default 'default' */
  pool?: string;
  /** where to create the pool when the host has none of that name */
  poolPath: string;
  consoleDir: string;
  /** 'auto': test for test:// URIs, kvm when libvirt offers it, else qemu (TCG) */
  virtType?: VirtType | 'auto';
  defaultDiskBytes?: number;
  timings?: Partial<AgentTimings>;
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
  controllerMetrics?: ControllerMetrics;
}

export class HostAgent {
  readonly host: string;
  readonly registry = new DomainRegistry();
  /** names of the domains on the current connection (lets a new VM skip a look-up) */
  readonly domainNames = new DomainNames();
  readonly timings: AgentTimings;
  /** the libvirt connection, kept alive across libvirtd restarts */
  link?: LibvirtLink;
  keeper?: LeaseKeeper;
  registrar?: HostRegistrar;
  reconciler?: VmReconciler;
  controller?: Controller;
  volumeReconciler?: VolumeReconciler;
  volumeController?: Controller;
  monitor?: Monitor;
  virtType?: VirtType;
  private readonly clock: Clock;
  private readonly log: Logger;
  private started = false;
  private readyResolve!: () => void;
  /** resolves once the agent reconciles VMs (lease held, cache synced) */
  readonly ready = new Promise<void>((r) => (this.readyResolve = () => {
    this.started = true;
    r();
  }));

  constructor(private readonly o: HostAgentOptions) {
    this.host = o.host;
    this.timings = { ...DEFAULT_TIMINGS, ...(o.timings ?? {}) };
    this.clock = o.clock ?? systemClock;
    this.log = o.logger.child({ host: o.host });
  }

  private async detectVirtType(conn: LibvirtConnection): Promise<VirtType> {
    const want = this.o.virtType ?? 'auto';
    if (want !== 'auto') return want;
    if (this.o.libvirtUri.startsWith('test:')) return 'test';
    const caps = await conn.getCapabilities();
    return /<domain type=['"]kvm['"]/.test(caps) ? 'kvm' : 'qemu';
  }

  /** The current libvirt connection (undefined before the first one and during an outage). */
  get conn(): LibvirtConnection | undefined {
    return this.link?.connection;
  }

  get pools(): PoolCache | undefined {
    return this.link?.pools;
  }

  /** What the Prometheus metrics report about this host, read at each scrape. */
  snapshot(): HostAgentSnapshot {
    return {
      host: this.host,
      lease: this.keeper?.state ?? 'starting',
      fences: this.keeper?.fences ?? 0,
      domains: this.registry.size,
      statusQueueDepth: this.reconciler?.statusJobs.size ?? 0,
      libvirtConnected: this.link?.connected ?? false,
      libvirtReconnects: this.link?.reconnects ?? 0,
      volumes: countBy(this.o.volumes.objectsOf(this.host), (v) => (v.status as VolumeStatus | undefined)?.phase ?? 'Pending'),
    };
  }

  /** Why this host does not run VMs right now, or undefined when it does (for /readyz). */
  notReady(): string | undefined {
    if (!this.started) return 'starting';
    if (this.keeper?.state !== 'held') return `lease ${this.keeper?.state ?? 'not acquired'}`;
    const l = this.link?.state;
    if (l && !l.connected) return `libvirt ${l.reason}: ${l.message}`;
    return undefined;
  }

  /** Keys of the VMs bound here. */
  keys(): string[] {
    return this.o.source.keysOf(this.host);
  }

  async start(outer: AbortSignal): Promise<void> {
    const o = this.o;
    const t = this.timings;
    // Everything started here stops when start() ends, also when it ends by a failure.
    const stop = new AbortController();
    setMaxListeners(64, stop.signal);
    const onAbort = () => stop.abort();
    outer.addEventListener('abort', onAbort, { once: true });
    if (outer.aborted) stop.abort();
    const signal = stop.signal;
    const pool = o.pool ?? 'default';
    const link = (this.link = new LibvirtLink({
      uri: o.libvirtUri, executor: o.executor, pool, poolPath: o.poolPath, clock: this.clock, logger: this.log,
      probeIntervalMs: t.libvirtProbeMs,
      onEvent: (e) => this.onLifecycleEvent(e.name, e.event),
      onLost: () => this.registrar?.requestBeat(),
      onRestored: () => this.onLibvirtRestored(),
    }));
    const conn = () => link.conn;
    const pools = link.pools;
    const tasks: Promise<void>[] = [];
    let unregister: (() => void) | undefined;
    try {
      if (!(await link.connect(signal))) return;
      tasks.push(link.start(signal));
      const virtType = (this.virtType = await this.detectVirtType(link.conn));
      const keeper = (this.keeper = new LeaseKeeper({
        host: this.host, holder: o.holder, backend: o.lease, logger: this.log, clock: this.clock,
        renewIntervalMs: t.renewIntervalMs, fenceAfterMs: t.fenceAfterMs,
        onFence: () => this.fenceAll(),
        onResume: () => this.enqueueAll(),
      }));
      const registrar = (this.registrar = new HostRegistrar({
        host: this.host, store: o.store, conn, pools, pool, labels: o.labels ?? {}, libvirtUri: o.libvirtUri,
        agentVersion: o.agentVersion ?? '0.1.0', hypervisor: virtType === 'test' ? 'Test' : 'QEMU',
        kvm: virtType === 'kvm', hostname: o.hostname,
        conditions: () => [libvirtCondition(link.state, o.libvirtUri)],
        keeper, clock: this.clock, heartbeatIntervalMs: t.heartbeatIntervalMs, capacityRefreshMs: t.hostFactsRefreshMs, logger: this.log,
      }));
      const images = o.images;
      const hostContext = (): HostContext => ({
        ...(images ? { images: (img: Image) => images.state(img) } : {}),
        host: this.host, virtType, consoleDir: o.consoleDir, pool, poolPaths: pools.paths(),
        defaultDiskBytes: o.defaultDiskBytes ?? 10 * 1024 ** 3,
      });
      const volumes = (this.volumeReconciler = new VolumeReconciler({
        host: this.host, store: o.store, pools, volumes: o.volumes, vms: o.source, refs: o.refs, hostContext,
        fenced: () => keeper.fenced(), clock: this.clock, logger: this.log,
      }));
      const reconciler = (this.reconciler = new VmReconciler({
        host: this.host, store: o.store, conn, pools, source: o.source, refs: o.refs, registry: this.registry,
        fenced: () => keeper.fenced(), clock: this.clock, shutdownGraceMs: t.shutdownGraceMs, logger: this.log,
        requeue: (key) => this.controller?.queue.addRateLimited(key),
        cacheFresh: () => o.source.freshSince() > keeper.heldSince(),
        statusWriters: o.statusWriters,
        busy: () => (this.controller?.queue.len() ?? 0) > 0,
        domains: this.domainNames,
        hostContext,
        claimVolume: (namespace, name) => volumes.claim(namespace, name),
        freshVolume: (namespace, name) => volumes.latest(`${namespace}/${name}`),
      }));
      const controller = (this.controller = new Controller({
        name: `vm@${this.host}`, reconciler: (k, ctx) => this.whileConnected(() => reconciler.reconcile(k, ctx)), workers: o.workers ?? 4,
        logger: this.log, clock: this.clock, resyncPeriodMs: 0, metrics: o.controllerMetrics,
      }));
      const volumeController = (this.volumeController = new Controller({
        name: `volume@${this.host}`, reconciler: (k, ctx) => this.whileConnected(() => volumes.reconcile(k, ctx)), workers: 2,
        logger: this.log, clock: this.clock, resyncPeriodMs: 0, metrics: o.controllerMetrics,
      }));
      if (o.metrics) {
        this.monitor = new Monitor({
          host: this.host, conn, pools, pool, registry: this.registry, metrics: o.metrics, clock: this.clock,
          intervalMs: t.sampleIntervalMs, accountingFlushMs: t.accountingFlushMs, logger: this.log,
        });
      }

      // Register (retrying while Cassandra is unreachable), then hold the lease before running anything.
      for (let attempt = 0; !signal.aborted; attempt++) {
        try {
          await registrar.register();
          break;
        } catch (err) {
          this.log.warn({ err: String(err) }, 'registering the host failed; retrying');
          await sleep(this.clock, Math.min(10_000, 500 * 2 ** attempt), signal);
        }
      }
      tasks.push(keeper.start(signal));
      if (!(await keeper.waitHeld(signal))) return;
      tasks.push(registrar.start(signal));

      // Changes of bound VMs (and so of the Volumes they use) and of the Volumes held here, except
      // the agent's own writes coming back through the feed.
      const unregisterVms = o.source.register(this.host, (key, obj, change) => {
        if (change === 'update' && reconciler.isOwnWrite(key, obj)) return;
        controller.enqueue(key);
        for (const v of VmSource.volumeKeys(obj)) volumeController.enqueue(v);
      });
      const unregisterVolumes = o.volumes.register(this.host, (key, obj, change) => {
        if (change === 'update' && volumes.isOwnWrite(key, obj)) return;
        volumeController.enqueue(key);
      });
      unregister = () => {
        unregisterVms();
        unregisterVolumes();
      };
      if (!(await o.source.waitForSync(signal)) || !(await o.volumes.waitForSync(signal))) return;
      await this.listDomainNames().catch((err) => this.log.warn({ err: String(err) }, 'listing domains failed; looking each up'));
      tasks.push(controller.start(signal), volumeController.start(signal));
      // A download ended: the VMs and Volumes waiting for it (or told it failed) look again.
      const offImages = o.images?.onSettled(() => this.enqueueAll());
      if (offImages) signal.addEventListener('abort', offImages, { once: true });
      this.enqueueAll();
      tasks.push(this.sweepLoop(signal));
      if (this.monitor) tasks.push(this.monitor.start(signal));
      this.readyResolve();
      this.log.info({ uri: o.libvirtUri, virtType }, 'agent running');
      await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    } finally {
      stop.abort();
      outer.removeEventListener('abort', onAbort);
      await Promise.allSettled(tasks);
      unregister?.();
      await link.close();
    }
  }

  /**
   * Runs a reconcile only while libvirt is connected: during an outage nothing can be observed or
   * done, and every key is reconciled again once the connection is back (onLibvirtRestored).
   * A failure that may mean a lost connection gets the connection probed at once.
   */
  private async whileConnected(run: () => Promise<ReconcileResult>): Promise<ReconcileResult> {
    const link = this.link!;
    if (!link.connected) return {};
    try {
      return await run();
    } catch (err) {
      link.suspect(err);
      throw err;
    }
  }

  /** Fills the index of domain names from a listing of the current connection. */
  private async listDomainNames(): Promise<void> {
    const conn = this.link!.conn;
    this.domainNames.beginListing(conn);
    const doms = await conn.listAllDomains();
    const names = doms.map((d) => d.name);
    for (const d of doms) d.free();
    this.domainNames.fill(conn, names);
  }

  /** A lifecycle event, except those the agent's own actions caused: reconcile its VM. */
  private onLifecycleEvent(domain: string, event: string): void {
    if (event === 'defined') this.domainNames.add(domain);
    else if (event === 'undefined') this.domainNames.delete(domain);
    const key = keyOfDomainName(domain);
    if (key && this.reconciler && !this.reconciler.consumeExpectedEvent(domain, event)) this.controller?.enqueue(key);
  }

  /**
   * A new libvirt connection is up: report it, then look at everything again (the daemon may
   * have lost or changed domains meanwhile; events of the outage were missed).
   */
  private onLibvirtRestored(): void {
    this.domainNames.invalidate(); // the sweep lists the new connection
    void this.registrar?.requestBeat();
    if (!this.started) return;
    this.sweep().catch((err) => this.log.warn({ err: String(err) }, 'sweep after reconnecting to libvirt failed'));
  }

  /** Queues every VM bound here and every Volume held here. */
  enqueueAll(): void {
    for (const k of this.keys()) this.controller?.enqueue(k);
    for (const k of this.o.volumes.keysOf(this.host)) this.volumeController?.enqueue(k);
  }

  /** The owner marks of every domain on the host that carries one. */
  private async ownedDomains(): Promise<{ key: string; active: boolean; destroy: () => Promise<void> }[]> {
    const conn = this.link!.conn;
    const out: { key: string; active: boolean; destroy: () => Promise<void> }[] = [];
    this.domainNames.beginListing(conn);
    const all = await conn.listAllDomains();
    const names = all.map((d) => d.name);
    for (const dom of all) {
      try {
        const meta = await dom.getMetadata(OWNER_NS).catch(() => undefined);
        const owner = meta ? parseOwner(meta) : undefined;
        if (!owner || owner.host !== this.host) continue;
        const active = await dom.isActive();
        out.push({ key: `${owner.namespace}/${owner.name}`, active, destroy: async () => {
          const d = await conn.lookupDomainByUUID(dom.uuid);
          if (!d) return;
          try { await d.destroy(); } finally { d.free(); }
        } });
      } finally {
        dom.free();
      }
    }
    this.domainNames.fill(conn, names);
    return out;
  }

  /** Fencing: destroys every running domain of ours, straight through libvirt (no Cassandra). */
  async fenceAll(): Promise<void> {
    const owned = await this.ownedDomains();
    await Promise.all(owned.filter((d) => d.active).map((d) => d.destroy().catch((err) => this.log.error({ vm: d.key, err: String(err) }, 'fencing could not destroy a domain'))));
    this.log.error({ stopped: owned.filter((d) => d.active).map((d) => d.key) }, 'fenced: stopped every domain');
    for (const d of owned) this.controller?.enqueue(d.key);
  }

  /** One pass of the periodic sweep: every bound VM and held Volume, every owned domain, leftover volumes. */
  async sweep(): Promise<void> {
    const controller = this.controller!;
    this.enqueueAll();
    for (const d of await this.ownedDomains()) controller.enqueue(d.key);
    const pool = await this.link!.pools.get(this.o.pool ?? 'default');
    if (!pool) return;
    const found = new Map<string, { pool: string; name: string }[]>();
    for (const v of await pool.listVolumes()) {
      const name = v.name;
      v.free();
      const p = parseVmVolumeName(name);
      if (!p) continue;
      const key = `${p.namespace}/${p.name}`;
      const vm = this.o.source.boundTo(this.host, key);
      if (vm && uidTag(vm.metadata.uid ?? '') === p.uidTag && !vm.metadata.deletionTimestamp) continue;
      let l = found.get(key);
      if (!l) found.set(key, (l = []));
      l.push({ pool: pool.name, name });
    }
    for (const [key, vols] of found) {
      this.reconciler!.leftovers.set(key, vols);
      controller.enqueue(key);
    }
  }

  private async sweepLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.clock, this.timings.resyncMs * (0.9 + Math.random() * 0.2), signal);
      if (signal.aborted) return;
      if (!this.link?.connected) continue; // the reconnection sweeps once libvirt is back
      await this.sweep().catch((err) => this.log.warn({ err: String(err) }, 'sweep failed'));
    }
  }
}
