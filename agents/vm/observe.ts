/**
 * Reads what libvirt holds for one VM: the domain named after it (state, ownership mark,
 * managed fields of its persistent definition) and the volumes that matter (the desired ones,
 * and this VM's volumes of any incarnation referenced by its domain or named by its disks).
 */
import type { LibvirtConnection } from '../../libvirt';
import { OWNER_NS, fingerprintOf, parseOwner, parseRequestsMark } from '../domain';
import { domainName, parseVmVolumeName } from '../names';
import type { PoolCache } from '../host/pools';
import type { DesiredVm } from './desired';
import type { DomainAfter } from './status';
import { isActive, type Observed, type ObservedDomain, type ObservedVolume } from './plan';
import type { SeedStore } from './seeds';

export interface ObserveOptions {
  conn: LibvirtConnection;
  pools: PoolCache;
  namespace: string;
  name: string;
  desired?: DesiredVm;
  /** more candidate volumes by (pool, name), e.g. the disks of a VM being deleted */
  extraVolumes?: { pool: string; name: string }[];
  /** true if the domain certainly does not exist (DomainNames): no look-up */
  domainAbsent?: (name: string) => boolean;
  /** the host's cloud-init seeds, when VMs get one here: the VM's seed file is looked at too */
  seeds?: SeedStore;
}

/**
 * The domain named `name`. With `liveSeed`, a running domain's live metadata is read as well: the
 * cloud-init seed it booted with (its persistent definition may name a newer one).
 */
export async function observeDomain(conn: LibvirtConnection, name: string, options: { liveSeed?: boolean } = {}): Promise<ObservedDomain | undefined> {
  const dom = await conn.lookupDomainByName(name);
  if (!dom) return undefined;
  try {
    const [st, xml] = await Promise.all([dom.getState(), dom.getXML({ inactive: true })]);
    const fingerprint = fingerprintOf(xml);
    const live = options.liveSeed && isActive(st.state) ? await dom.getMetadata(OWNER_NS).catch(() => undefined) : undefined;
    const liveSeed = live ? parseOwner(live)?.seed : undefined;
    return {
      ...(liveSeed !== undefined ? { liveSeed } : {}),
      name: dom.name,
      uuid: dom.uuid,
      state: st.state,
      reason: st.reason,
      owner: parseOwner(xml),
      fingerprint,
      diskPaths: fingerprint.disks.flatMap((d) => (d.source ? [d.source] : [])),
      honouredRequests: parseRequestsMark(xml),
    };
  } finally {
    dom.free();
  }
}

/** The domain's state after the actions (for status), or undefined when there is none. */
export async function domainAfter(conn: LibvirtConnection, name: string): Promise<DomainAfter | undefined> {
  const dom = await conn.lookupDomainByName(name);
  if (!dom) return undefined;
  try {
    const st = await dom.getState();
    return { uuid: dom.uuid, state: st.state, reason: st.reason };
  } finally {
    dom.free();
  }
}

export async function observeVm(o: ObserveOptions): Promise<Observed> {
  const dname = domainName(o.namespace, o.name);
  const seedPath = o.seeds?.pathOf(o.namespace, o.name);
  const [domain, seedFile] = await Promise.all([
    o.domainAbsent?.(dname) ? undefined : observeDomain(o.conn, dname, { liveSeed: o.desired?.seed !== undefined }),
    seedPath === undefined ? undefined : o.seeds!.current(seedPath),
  ]);
  const candidates = new Map<string, { pool: string; name: string }>();
  const add = (pool: string, name: string) => candidates.set(`${pool}/${name}`, { pool, name });
  for (const v of o.desired?.volumes ?? []) add(v.pool, v.name);
  for (const v of o.extraVolumes ?? []) add(v.pool, v.name);
  // Only this VM's own disks may be removed with it: never a Volume object's, never a stranger's.
  for (const p of domain?.diskPaths ?? []) {
    const at = o.pools.locate(p);
    const parsed = at && parseVmVolumeName(at.name);
    if (at && parsed && parsed.namespace === o.namespace && parsed.name === o.name) add(at.pool, at.name);
  }
  const volumes: ObservedVolume[] = [];
  await Promise.all(
    [...candidates.values()].map(async (c) => {
      const pool = await o.pools.get(c.pool);
      if (!pool) return;
      const vol = await pool.lookupVolume(c.name);
      if (!vol) return;
      try {
        volumes.push({ pool: c.pool, name: c.name, path: vol.key });
      } finally {
        vol.free();
      }
    }),
  );
  volumes.sort((a, b) => (a.pool + a.name).localeCompare(b.pool + b.name));
  return { domain, volumes, ...(seedPath !== undefined && seedFile ? { seed: { path: seedPath, ...seedFile } } : {}) };
}
