/**
 * This host's underlay address, when STRATUS_NETWORK_ADDRESS does not give it: the source address
 * of the IPv4 default route (its preferred source, else the first IPv4 address of its device),
 * read with iproute2, inside the backend's network namespace when it has one.
 */
import { runIn } from './exec';

interface RouteJson { dev?: string; prefsrc?: string }
interface AddrJson { addr_info?: { family?: string; local?: string; scope?: string }[] }

/** The default route's source address, or undefined (no default route, no iproute2). */
export async function defaultRouteSource(netns?: string): Promise<string | undefined> {
  try {
    const routes = JSON.parse((await runIn(netns, 'ip', ['-4', '-j', 'route', 'show', 'default'])).stdout || '[]') as RouteJson[];
    const r = routes.find((x) => x.dev);
    if (!r) return undefined;
    if (r.prefsrc) return r.prefsrc;
    const links = JSON.parse((await runIn(netns, 'ip', ['-4', '-j', 'addr', 'show', 'dev', r.dev!])).stdout || '[]') as AddrJson[];
    return links.flatMap((l) => l.addr_info ?? []).find((a) => a.family === 'inet' && a.local && a.scope !== 'host')?.local;
  } catch {
    return undefined;
  }
}
