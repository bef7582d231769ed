/**
 * The storage pools of one host connection: handles looked up once and kept, their target
 * paths (volume path = pool path + '/' + name for the dir pools the agent uses), and creation
 * of the agent's own pool when the host has none of that name.
 * Owns: pool handles of the host's current connection (freed by close(), and by reset() when
 * the connection is replaced after a libvirt outage).
 */
import { isLibvirtError, type LibvirtConnection, type StoragePool } from '../../libvirt';
import { esc } from '../domain';

export function poolTargetPath(poolXml: string): string | undefined {
  const target = /<target>[\s\S]*?<path>([^<]*)<\/path>/.exec(poolXml);
  return target?.[1]?.trim();
}

export class PoolCache {
  private readonly pools = new Map<string, StoragePool>();
  private readonly pathByPool = new Map<string, string>();

  /** @param conn the host's current connection (it changes when libvirt is reconnected) */
  constructor(private readonly conn: () => LibvirtConnection) {}

  /** The pool handle, looked up once; undefined when the host has no such pool. */
  async get(name: string): Promise<StoragePool | undefined> {
    const have = this.pools.get(name);
    if (have) return have;
    const pool = await this.conn().lookupStoragePool(name);
    if (!pool) return undefined;
    const path = poolTargetPath(await pool.getXML());
    this.pools.set(name, pool);
    if (path) this.pathByPool.set(name, path);
    return pool;
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

  /** Creates a volume from its XML in pool `pool`; one that exists already counts as created. */
  async createVolume(pool: string, xml: string): Promise<void> {
    const p = await this.get(pool);
    if (!p) throw new Error(`storage pool ${pool} not found`);
    try {
      (await p.createVolume(xml)).free();
    } catch (err) {
      if (!isLibvirtError(err, 'VIR_ERR_STORAGE_VOL_EXIST')) throw err;
    }
  }

  /** Deletes volume `name` of pool `pool`; one that is not there counts as deleted. */
  async deleteVolume(pool: string, name: string): Promise<void> {
    const vol = await (await this.get(pool))?.lookupVolume(name);
    if (!vol) return;
    try {
      await vol.delete();
    } catch (err) {
      if (!isLibvirtError(err, 'VIR_ERR_NO_STORAGE_VOL')) throw err;
    } finally {
      vol.free();
    }
  }

  /** Path, size and allocation of volume `name` of pool `pool`, or undefined when there is none. */
  async volumeInfo(pool: string, name: string): Promise<{ path: string; capacityBytes: number; allocationBytes: number } | undefined> {
    const vol = await (await this.get(pool))?.lookupVolume(name);
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
  }

  close(): void {
    for (const p of this.pools.values()) p.free();
    this.pools.clear();
  }
}
