/**
 * The storage pools of one host connection: handles looked up once and kept, their target
 * paths (volume path = pool path + '/' + name for the dir pools the agent uses), and creation
 * of the agent's own pool when the host has none of that name.
 * Owns: pool handles of one connection (freed by close()).
 */
import type { LibvirtConnection, StoragePool } from '../libvirt';
import { esc } from '../domain';

export function poolTargetPath(poolXml: string): string | undefined {
  const target = /<target>[\s\S]*?<path>([^<]*)<\/path>/.exec(poolXml);
  return target?.[1]?.trim();
}

export class PoolCache {
  private readonly pools = new Map<string, StoragePool>();
  private readonly pathByPool = new Map<string, string>();

  constructor(private readonly conn: LibvirtConnection) {}

  /** The pool handle, looked up once; undefined when the host has no such pool. */
  async get(name: string): Promise<StoragePool | undefined> {
    const have = this.pools.get(name);
    if (have) return have;
    const pool = await this.conn.lookupStoragePool(name);
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

  /**
   * Makes sure pool `name` exists and is active: a missing pool is defined as a directory pool at
   * `path`, built, started and set to autostart.
   */
  async ensure(name: string, path: string): Promise<StoragePool> {
    let pool = await this.get(name);
    if (!pool) {
      const xml = `<pool type='dir'><name>${esc(name)}</name><target><path>${esc(path)}</path></target></pool>`;
      const defined = await this.conn.defineStoragePool(xml);
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

  close(): void {
    for (const p of this.pools.values()) p.free();
    this.pools.clear();
  }
}
