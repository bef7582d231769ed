/**
 * LibvirtConnection: one connection to a hypervisor (virConnectPtr), e.g. 'qemu:///system' or
 * the test driver's 'test:///ABSOLUTE/PATH/host.xml'.
 * Owns: host queries, domain and storage look-ups/definitions, lifecycle event subscriptions.
 *
 * Every method that reaches libvirt returns a Promise and runs on the executor's worker threads,
 * so a slow hypervisor never stalls the Node event loop.
 */
import { ensureEventImpl } from './ffi';
import { check, LibvirtExecutor } from './executor';
import { errorNumberOf } from './errors';
import { LibvirtHandle } from './handle';
import { Domain } from './domain';
import { StoragePool, StorageVolume, type StoragePoolInfo } from './storage';
import { decodePointerArray } from './lists';
import { decodeStatsRecords, type DomainStatsRecord } from './stats';
import {
  acquireEventLoop,
  addLifecycleListener,
  lifecycleCallback,
  releaseEventLoop,
  removeLifecycleListener,
  type DomainLifecycleListener,
} from './events';
import {
  DOMAIN_STATS_TYPES,
  VIR_DOMAIN_DEFINE_VALIDATE,
  VIR_DOMAIN_EVENT_ID_LIFECYCLE,
  domainListFlags,
  type DomainListFilter,
  type DomainStatsType,
} from './constants';

export interface NodeInfo {
  /** CPU model / architecture string, e.g. 'x86_64'. */
  model: string;
  /** Host memory, KiB. */
  memoryKiB: number;
  /** Active logical CPUs. */
  cpus: number;
  mhz: number;
  /** NUMA nodes, sockets per node, cores per socket, threads per core. */
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

export interface LibvirtConnectionOptions {
  /** Worker threads for this connection's calls; default: one pool shared by the process. */
  executor?: LibvirtExecutor;
}

/** Stops a subscription; resolves once libvirt has dropped the callback. Idempotent. */
export type Unsubscribe = () => Promise<void>;

const VIR_ERR_NO_DOMAIN = errorNumberOf('VIR_ERR_NO_DOMAIN');
const VIR_ERR_NO_STORAGE_POOL = errorNumberOf('VIR_ERR_NO_STORAGE_POOL');

let sharedExecutor: LibvirtExecutor | undefined;

/**
 * The process-wide default pool (its idle workers do not keep the process alive). Pass your own
 * executor to open() to size or close it explicitly.
 */
export function defaultExecutor(): LibvirtExecutor {
  sharedExecutor ??= new LibvirtExecutor();
  return sharedExecutor;
}

export class LibvirtConnection extends LibvirtHandle {
  private readonly subscriptions = new Set<Unsubscribe>();

  private constructor(
    executor: LibvirtExecutor,
    ptr: bigint,
    readonly uri: string,
  ) {
    super(executor, ptr, 'virConnectClose');
  }

  /**
   * Opens a read-write connection. Registers libvirt's default event loop implementation first
   * (it must precede the first open for events to work). Throws LibvirtError on failure.
   */
  static async open(uri: string, options: LibvirtConnectionOptions = {}): Promise<LibvirtConnection> {
    ensureEventImpl();
    const executor = options.executor ?? defaultExecutor();
    const r = await executor.call('virConnectOpen', [uri]);
    check('virConnectOpen', r, r.result !== null);
    return new LibvirtConnection(executor, r.result as bigint, uri);
  }

  /**
   * Ends this connection's event subscriptions, waits for its calls in flight, and releases the
   * connection. libvirt closes it for real once domains/pools/volumes obtained from it are freed
   * too (each holds a reference). Idempotent.
   */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((unsubscribe) => unsubscribe()));
    await this.release();
  }

  /** Same as close(), without waiting. */
  override free(): void {
    this.close().catch(() => undefined);
  }

  async isAlive(): Promise<boolean> {
    return (await this.invokeInt('virConnectIsAlive', [])).result === 1;
  }

  async getHostname(): Promise<string> {
    return this.invokeValue<string>('virConnectGetHostname', []);
  }

  async getNodeInfo(): Promise<NodeInfo> {
    const r = await this.invokeInt('virNodeGetInfo', [{}], { outs: [1] });
    const info = r.outs[0] as { model: string; memory: number | bigint; cpus: number; mhz: number; nodes: number; sockets: number; cores: number; threads: number };
    return {
      model: info.model,
      memoryKiB: Number(info.memory),
      cpus: info.cpus,
      mhz: info.mhz,
      nodes: info.nodes,
      sockets: info.sockets,
      cores: info.cores,
      threads: info.threads,
    };
  }

  /** The capabilities XML (host CPU, guest architectures and domain types). */
  async getCapabilities(): Promise<string> {
    return this.invokeValue<string>('virConnectGetCapabilities', []);
  }

  /** The libvirt version on the other side of the connection, as major*1e6 + minor*1e3 + micro. */
  async getLibVersion(): Promise<number> {
    const r = await this.invokeInt('virConnectGetLibVersion', [[0]], { outs: [1] });
    return Number((r.outs[0] as Array<number | bigint>)[0]);
  }

  // ---- Domains ----

  /** Defines (or redefines, by name/UUID) a persistent domain. `validate` checks the RNG schema. */
  async defineDomain(xml: string, options: { validate?: boolean } = {}): Promise<Domain> {
    const ptr = await this.invokeValue<bigint>('virDomainDefineXMLFlags', [xml, options.validate ? VIR_DOMAIN_DEFINE_VALIDATE : 0]);
    return new Domain(this.executor, ptr, this);
  }

  /** The domain by name, or undefined when there is none (VIR_ERR_NO_DOMAIN). */
  async lookupDomainByName(name: string): Promise<Domain | undefined> {
    const ptr = await this.invokeLookup<bigint>('virDomainLookupByName', [name], VIR_ERR_NO_DOMAIN);
    return ptr === undefined ? undefined : new Domain(this.executor, ptr, this);
  }

  /** The domain by UUID string, or undefined when there is none (VIR_ERR_NO_DOMAIN). */
  async lookupDomainByUUID(uuid: string): Promise<Domain | undefined> {
    const ptr = await this.invokeLookup<bigint>('virDomainLookupByUUIDString', [uuid], VIR_ERR_NO_DOMAIN);
    return ptr === undefined ? undefined : new Domain(this.executor, ptr, this);
  }

  /** All domains (running and defined), optionally filtered. */
  async listAllDomains(filter: DomainListFilter = {}): Promise<Domain[]> {
    const r = await this.invokeInt('virConnectListAllDomains', [[null], domainListFlags(filter)], { outs: [1] });
    return decodePointerArray(r).map((ptr) => new Domain(this.executor, ptr, this));
  }

  /**
   * Statistics of every domain in one call (virConnectGetAllDomainStats), as plain records.
   * Empty `types` asks for every group the driver supports.
   */
  async getAllDomainStats(types: DomainStatsType[] = [], filter: DomainListFilter = {}): Promise<DomainStatsRecord[]> {
    const mask = types.reduce((m, t) => m | DOMAIN_STATS_TYPES[t], 0);
    const r = await this.invokeInt('virConnectGetAllDomainStats', [mask, [null], domainListFlags(filter)], { outs: [2] });
    const list = (r.outs[0] as Array<bigint | null>)[0];
    if (list === null) return [];
    try {
      return decodeStatsRecords(list, r.result);
    } finally {
      await this.executor.call('virDomainStatsRecordListFree', [list]);
    }
  }

  // ---- Storage ----

  /** The pool by name, or undefined when there is none (VIR_ERR_NO_STORAGE_POOL). */
  async lookupStoragePool(name: string): Promise<StoragePool | undefined> {
    const ptr = await this.invokeLookup<bigint>('virStoragePoolLookupByName', [name], VIR_ERR_NO_STORAGE_POOL);
    return ptr === undefined ? undefined : new StoragePool(this.executor, ptr, this);
  }

  async listStoragePools(): Promise<StoragePool[]> {
    const r = await this.invokeInt('virConnectListAllStoragePools', [[null], 0], { outs: [1] });
    return decodePointerArray(r).map((ptr) => new StoragePool(this.executor, ptr, this));
  }

  /** Defines a persistent pool (inactive until `pool.create()`). */
  async defineStoragePool(xml: string): Promise<StoragePool> {
    return new StoragePool(this.executor, await this.invokeValue<bigint>('virStoragePoolDefineXML', [xml, 0]), this);
  }

  getStoragePoolInfo(pool: StoragePool): Promise<StoragePoolInfo> {
    return pool.getInfo();
  }

  createVolume(pool: StoragePool, xml: string): Promise<StorageVolume> {
    return pool.createVolume(xml);
  }

  /** A new volume in `pool`, copied from `cloneFrom` (which may live in another pool). */
  createVolumeFrom(pool: StoragePool, xml: string, cloneFrom: StorageVolume): Promise<StorageVolume> {
    return pool.createVolumeFrom(xml, cloneFrom);
  }

  lookupVolume(pool: StoragePool, name: string): Promise<StorageVolume | undefined> {
    return pool.lookupVolume(name);
  }

  listVolumes(pool: StoragePool): Promise<StorageVolume[]> {
    return pool.listVolumes();
  }

  deleteVolume(volume: StorageVolume): Promise<void> {
    return volume.delete();
  }

  // ---- Events ----

  /**
   * Calls `listener` for every domain lifecycle event on this connection (defined, started,
   * stopped, ...). Listeners run on the main thread, from a microtask; an exception in one is an
   * uncaught exception, as for any event listener. While a subscription exists libvirt's event
   * loop is pumped (on a koffi thread), which keeps the process alive: unsubscribe or close().
   */
  async onDomainLifecycle(listener: DomainLifecycleListener): Promise<Unsubscribe> {
    const id = addLifecycleListener(listener);
    acquireEventLoop();
    let callbackId: number;
    try {
      const r = await this.invokeInt('virConnectDomainEventRegisterAny', [
        null,
        VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        lifecycleCallback(),
        BigInt(id),
        null,
      ]);
      callbackId = r.result;
    } catch (err) {
      removeLifecycleListener(id);
      await releaseEventLoop();
      throw err;
    }
    let done: Promise<void> | undefined;
    const unsubscribe: Unsubscribe = () => {
      done ??= (async () => {
        this.subscriptions.delete(unsubscribe);
        // Drop the listener first: an event already queued for it is then ignored.
        removeLifecycleListener(id);
        try {
          if (!this.isFreed) await this.invokeInt('virConnectDomainEventDeregisterAny', [callbackId]);
        } finally {
          await releaseEventLoop();
        }
      })();
      return done;
    };
    this.subscriptions.add(unsubscribe);
    return unsubscribe;
  }
}
