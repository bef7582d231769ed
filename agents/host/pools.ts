/**
 * The storage pools of one host connection: handles looked up once and kept, their target
 * paths (volume path = pool path + '/' + name for the dir pools the agent uses), which of them
 * are shared by several hosts, and creation of the agent's own pool when the host has none of
 * that name.
 * Owns: pool handles of the host's current connection (freed by close(), and by reset() when
 * the connection is replaced after a libvirt outage).
 *
 * Shared pools (a netfs pool on NFS, or in tests a dir pool several agents of one machine use):
 * declared by name (config/storage.ts, STRATUS_SHARED_POOLS) or by a file SHARED_POOL_MARKER in
 * the pool's folder, which every host mounting the storage sees; its content (else the pool's
 * name and path) is the pool's identity (sharedId), equal on every host. Another host's libvirt
 * creates and deletes volumes there, so this one's volume list can be stale: a volume not found
 * is looked for again after a refresh, and a volume is never created over an existing file.
 */
import { readFile } from 'node:fs/promises';
import { isLibvirtError, type LibvirtConnection, type StoragePool, type StorageVolume } from '../../libvirt';
import type { HostStatus } from '../../schemas/types.gen';
import { esc } from '../domain';

/** The file whose presence in a pool's folder declares the pool shared (its content: the pool's identity). */
export const SHARED_POOL_MARKER = '.stratus-shared-pool';

export type StoragePoolStatus = NonNullable<HostStatus['storagePools']>[number];

export interface PoolCacheOptions {
  /** names of the pools declared shared by the operator (config/storage.ts) */
  shared?: readonly string[];
}

/** The identity of shared pool `name` at `path`: the marker's content, else `name:path`. */
async function sharedIdentity(name: string, path: string | undefined, declared: boolean): Promise<string | undefined> {
  let marker: string | undefined;
  if (path) marker = await readFile(`${path.replace(/\/+$/, '')}/${SHARED_POOL_MARKER}`, 'utf8').then((t) => t.trim(), () => undefined);
  if (marker === undefined && !declared) return undefined;
  return marker || `${name}:${path ?? ''}`;
}

export function poolTargetPath(poolXml: string): string | undefined {
  const target = /<target>[\s\S]*?<path>([^<]*)<\/path>/.exec(poolXml);
  return target?.[1]?.trim();
}

export class PoolCache {
  private readonly pools = new Map<string, StoragePool>();
  private readonly pathByPool = new Map<string, string>();
  /** shared pool name → its identity (sharedId) */
  private readonly sharedByPool = new Map<string, string>();

  /** @param conn the host's current connection (it changes when libvirt is reconnected) */
  constructor(private readonly conn: () => LibvirtConnection, private readonly opts: PoolCacheOptions = {}) {}

  /** The pool handle, looked up once; undefined when the host has no such pool. */
  async get(name: string): Promise<StoragePool | undefined> {
    const have = this.pools.get(name);
    if (have) return have;
    const pool = await this.conn().lookupStoragePool(name);
    if (!pool) return undefined;
    const path = poolTargetPath(await pool.getXML());
    const shared = await sharedIdentity(name, path, this.opts.shared?.includes(name) ?? false);
    this.pools.set(name, pool);
    if (path) this.pathByPool.set(name, path);
    if (shared !== undefined) this.sharedByPool.set(name, shared);
    return pool;
  }

  /** The identity of pool `name` if it is shared by several hosts (known once the pool was looked up). */
  sharedId(name: string): string | undefined {
    return this.sharedByPool.get(name);
  }

  /** Shared pools looked up so far: name → identity. */
  shared(): Record<string, string> {
    return Object.fromEntries(this.sharedByPool);
  }

  /** The pools looked up so far as Host status.storagePools reports them. */
  storageStatus(): StoragePoolStatus[] {
    return [...this.pools.keys()].sort().map((name) => {
      const path = this.pathByPool.get(name);
      const sharedId = this.sharedByPool.get(name);
      return { name, ...(path ? { path } : {}), shared: sharedId !== undefined, ...(sharedId ? { sharedId } : {}) };
    });
  }

  /**
   * Volume `name` of pool `pool`, or undefined. On a shared pool a miss refreshes the pool's
   * list first (another host may have created it): the caller frees the handle.
   */
  async lookupVolume(pool: string, name: string): Promise<StorageVolume | undefined> {
    const p = await this.get(pool);
    if (!p) return undefined;
    const vol = await p.lookupVolume(name);
    if (vol || !this.sharedByPool.has(pool)) return vol;
    await p.refresh();
    return p.lookupVolume(name);
  }

  /** Target paths of the pools looked up so far. */
  paths(): Record<string, string> {
    return Object.fromEntries(this.pathByPool);
  }

  /** The pool and volume name of a volume file path in one of the known pools. */
  locate(path: string): { pool: string; name: string } | undefined {
    const i = path.lastIndexOf('/');
    if (i < 0) return undefined;
    const dir = path.slice(0, i).replace(/\/+$/, '');
    for (const [pool, p] of this.pathByPool) if (p.replace(/\/+$/, '') === dir) return { pool, name: path.slice(i + 1) };
    return undefined;
  }

  /**
   * Creates a volume from its XML in pool `pool`; one that exists already counts as created. On
   * a shared pool one another host made (a VM that moved here) is reused, never written over.
   */
  async createVolume(pool: string, xml: string): Promise<void> {
    const p = await this.get(pool);
    if (!p) throw new Error(`storage pool ${pool} not found`);
    const name = /<name>([^<]*)<\/name>/.exec(xml)?.[1];
    if (this.sharedByPool.has(pool) && name !== undefined) {
      const existing = await this.lookupVolume(pool, name);
      if (existing) {
        existing.free();
        return;
      }
    }
    try {
      (await p.createVolume(xml)).free();
    } catch (err) {
      if (!isLibvirtError(err, 'VIR_ERR_STORAGE_VOL_EXIST')) throw err;
    }
  }

  /** Deletes volume `name` of pool `pool`; one that is not there counts as deleted. */
  async deleteVolume(pool: string, name: string): Promise<void> {
    const vol = await this.lookupVolume(pool, name);
    if (!vol) return;
    try {
      await vol.delete();
    } catch (err) {
      if (isLibvirtError(err, 'VIR_ERR_NO_STORAGE_VOL') || (await this.goneFromShared(pool, name))) return;
      throw err;
    } finally {
      vol.free();
    }
  }

  /** True when `pool` is shared and, its list refreshed, has no volume `name` (another host deleted it). */
  private async goneFromShared(pool: string, name: string): Promise<boolean> {
    const p = this.sharedByPool.has(pool) ? await this.get(pool) : undefined;
    if (!p) return false;
    await p.refresh().catch(() => undefined);
    const vol = await p.lookupVolume(name);
    vol?.free();
    return vol === undefined;
  }

  /** Path, size and allocation of volume `name` of pool `pool`, or undefined when there is none. */
  async volumeInfo(pool: string, name: string): Promise<{ path: string; capacityBytes: number; allocationBytes: number } | undefined> {
    const vol = await this.lookupVolume(pool, name);
    if (!vol) return undefined;
    try {
      const info = await vol.getInfo();
      return { path: vol.key, capacityBytes: info.capacityBytes, allocationBytes: info.allocationBytes };
    } finally {
      vol.free();
    }
  }

  /**
   * Makes sure pool `name` exists and is active: a missing pool is defined as a directory pool at
   * `path`, built, started and set to autostart.
   */
  async ensure(name: string, path: string): Promise<StoragePool> {
    let pool = await this.get(name);
    if (!pool) {
      const xml = `<pool type='dir'><name>${esc(name)}</name><target><path>${esc(path)}</path></target></pool>`;
      const defined = await this.conn().defineStoragePool(xml);
      await defined.build().catch(() => undefined);
      defined.free();
      pool = await this.get(name);
      if (!pool) throw new Error(`storage pool ${name} vanished after it was defined`);
    }
    if (!(await pool.isActive())) {
      await pool.create();
      await pool.setAutostart(true).catch(() => undefined);
    }
    return pool;
  }

  /** Frees the handles (of a connection being replaced) and forgets the pools; get() looks them up again. */
  reset(): void {
    this.close();
    this.pathByPool.clear();
    this.sharedByPool.clear();
  }

  close(): void {
    for (const p of this.pools.values()) p.free();
    this.pools.clear();
  }
}
