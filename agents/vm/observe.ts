/**
 * Reads what libvirt holds for one VM: the domain named after it (state, ownership mark,
 * managed fields of its persistent definition) and the volumes that matter (the desired ones,
 * and this VM's volumes of any incarnation referenced by its domain or named by its disks).
 */
import type { LibvirtConnection } from '../../libvirt';
import { fingerprintOf, parseOwner } from '../domain';
import { domainName, parseVmVolumeName } from '../names';
import type { PoolCache } from '../host/pools';
import type { DesiredVm } from './desired';
import type { DomainAfter } from './status';
import type { Observed, ObservedDomain, ObservedVolume } from './plan';

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
}

export async function observeDomain(conn: LibvirtConnection, name: string): Promise<ObservedDomain | undefined> {
  const dom = await conn.lookupDomainByName(name);
  if (!dom) return undefined;
  try {
    const [st, xml] = await Promise.all([dom.getState(), dom.getXML({ inactive: true })]);
    const fingerprint = fingerprintOf(xml);
    return {
      name: dom.name,
      uuid: dom.uuid,
      state: st.state,
      reason: st.reason,
      owner: parseOwner(xml),
      fingerprint,
      diskPaths: fingerprint.disks.flatMap((d) => (d.source ? [d.source] : [])),
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
  const domain = o.domainAbsent?.(dname) ? undefined : await observeDomain(o.conn, dname);
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
  return { domain, volumes };
}
