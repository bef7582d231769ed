/**
 * GET /debug/domains: what libvirt reports, right now, for every host of the agent process: each
 * domain's name, uuid, state and, for Stratus domains, the VM (namespace/name) and uid from its
 * owner mark, with the host's lease state. The fault harness polls it to prove that no VM ever runs
 * on two hosts at once, so it reads libvirt on every request (no cache) and keeps this shape:
 *   {"hosts":[{"host":"hv-0","lease":"held"|"fenced"|"acquiring"|"starting",
 *              "domains":[{"name":..,"uuid":..,"vm":"ns/name","uid":"..","state":"running"|"paused"|"shutoff"|..}],
 *              "error"?: "libvirt not connected"}]}
 * A host whose deadline passed (a process resumed after SIGSTOP) fences first and is listed only
 * once its domains are stopped: the scan never shows a domain its host should no longer run.
 */
import type http from 'node:http';
import type { LibvirtConnection } from '../../libvirt';
import { OWNER_NS, parseOwner } from '../domain';
import type { LeaseKeeper, LeaseState } from './lease';

export interface DebugDomain {
  name: string;
  uuid: string;
  /** namespace/name of the VM (Stratus domains only) */
  vm?: string;
  /** the VM's metadata.uid (Stratus domains only) */
  uid?: string;
  /** libvirt's state: running, paused, shutoff, shutdown, crashed, blocked, pmsuspended, nostate */
  state: string;
}

export interface DebugHost {
  host: string;
  /** 'starting' until libvirt is connected and the lease keeper runs */
  lease: LeaseState | 'starting';
  domains: DebugDomain[];
  /** why the domains could not be listed */
  error?: string;
}

export interface DebugDomainsReport {
  hosts: DebugHost[];
}

/** Lists the domains of one host through libvirt, after any fence due has stopped them. */
export async function scanHostDomains(o: { host: string; conn: LibvirtConnection | undefined; keeper: LeaseKeeper; started: boolean }): Promise<DebugHost> {
  // Synchronously first: a deadline that passed while the process was frozen fences now.
  o.keeper.fenced();
  await o.keeper.fenceSettled();
  const lease = o.started ? o.keeper.state : 'starting';
  if (!o.conn) return { host: o.host, lease, domains: [], error: 'libvirt not connected' };
  const domains: DebugDomain[] = [];
  try {
    for (const dom of await o.conn.listAllDomains()) {
      try {
        const meta = await dom.getMetadata(OWNER_NS).catch(() => undefined);
        const owner = meta ? parseOwner(meta) : undefined;
        const { state } = await dom.getState();
        domains.push({ name: dom.name, uuid: dom.uuid, ...(owner ? { vm: `${owner.namespace}/${owner.name}`, uid: owner.uid } : {}), state });
      } catch {
        // Gone between the listing and the look-up: not there any more.
      } finally {
        dom.free();
      }
    }
  } catch (err) {
    return { host: o.host, lease, domains, error: `listing domains failed: ${String(err)}` };
  }
  return { host: o.host, lease, domains };
}

/** The request handler of GET /debug/domains; false when `req` is for another path (so a server can try its others). */
export function debugDomainsHandler(scan: () => Promise<DebugDomainsReport>): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/debug/domains') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const body = JSON.stringify(await scan());
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
