// What one host finds in libvirt by listing: the names of its domains (an index that lets a new VM
// skip a look-up), the domains that carry our owner mark (fencing, the sweep), and the leftover
// volumes of VMs that are no longer bound here (the sweep hands them to the reconciler).

import type { LibvirtConnection } from '../../libvirt';
import type { CachedObject } from '../../runtime';
import { OWNER_NS, parseOwner } from '../domain';
import { parseVmVolumeName, uidTag } from '../names';
import type { DomainNames } from '../vm/domain-names';
import type { PoolCache } from './pools';

export interface OwnedDomain {
  /** namespace/name of the VM */
  key: string;
  active: boolean;
  /** the hypervisor port forwarded to its SSH port, from its metadata (real hosts) */
  sshPort?: number;
  destroy: () => Promise<void>;
}

/** Fills the index of domain names from a listing of `conn`. */
export async function listDomainNames(conn: LibvirtConnection, names: DomainNames): Promise<void> {
  names.beginListing(conn);
  const doms = await conn.listAllDomains();
  const list = doms.map((d) => d.name);
  for (const d of doms) d.free();
  names.fill(conn, list);
}

/** The owner marks of every domain of `host` on `conn` (and a fresh index of names on the way). */
export async function ownedDomains(conn: LibvirtConnection, host: string, names: DomainNames): Promise<OwnedDomain[]> {
  const out: OwnedDomain[] = [];
  names.beginListing(conn);
  const all = await conn.listAllDomains();
  const list = all.map((d) => d.name);
  for (const dom of all) {
    try {
      const meta = await dom.getMetadata(OWNER_NS).catch(() => undefined);
      const owner = meta ? parseOwner(meta) : undefined;
      if (!owner || owner.host !== host) continue;
      const active = await dom.isActive();
      out.push({ key: `${owner.namespace}/${owner.name}`, active, ...(owner.sshPort !== undefined ? { sshPort: owner.sshPort } : {}), destroy: async () => {
        const d = await conn.lookupDomainByUUID(dom.uuid);
        if (!d) return;
        try { await d.destroy(); } finally { d.free(); }
      } });
    } finally {
      dom.free();
    }
  }
  names.fill(conn, list);
  return out;
}

/**
 * The VM volumes in `pool` whose VM is not bound here any more (or is another VM of that name, or
 * is being deleted), by VM key.
 */
export async function leftoverVolumes(
  pools: PoolCache, pool: string, boundTo: (key: string) => CachedObject | undefined,
): Promise<Map<string, { pool: string; name: string }[]>> {
  const found = new Map<string, { pool: string; name: string }[]>();
  const p = await pools.get(pool);
  if (!p) return found;
  for (const v of await p.listVolumes()) {
    const name = v.name;
    v.free();
    const parsed = parseVmVolumeName(name);
    if (!parsed) continue;
    const key = `${parsed.namespace}/${parsed.name}`;
    const vm = boundTo(key);
    if (vm && uidTag(vm.metadata.uid ?? '') === parsed.uidTag && !vm.metadata.deletionTimestamp) continue;
    let l = found.get(key);
    if (!l) found.set(key, (l = []));
    l.push({ pool: p.name, name });
  }
  return found;
}
