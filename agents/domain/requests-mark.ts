/**
 * The domain's record of the VM restart requests the agent has carried out (a metadata element of
 * its own, set with virDomainSetMetadata), so a restart is never done twice, even by an agent
 * that restarted before it could remove the request from status. Pure.
 */
import { attrOf, esc } from './xml';

/** The XML namespace and prefix of the element. */
export const REQUESTS_NS = 'https://stratuslab.eu/xmlns/agent/requests/1';
export const REQUESTS_PREFIX = 'stratusreq';
/** How many ids the element keeps (the newest). */
export const MARKED_REQUESTS = 8;

/** The element to hand to setMetadata(xml, REQUESTS_PREFIX, REQUESTS_NS): the newest ids, space-separated. */
export function buildRequestsMark(ids: readonly string[]): string {
  const kept = ids.filter((id) => /^[A-Za-z0-9._:-]+$/.test(id)).slice(-MARKED_REQUESTS);
  return `<requests done='${esc(kept.join(' '))}'/>`;
}

/** The ids recorded in a domain XML (whole document or the element alone); [] when there is none. */
export function parseRequestsMark(xml: string): string[] {
  const re = /<([A-Za-z_][\w.-]*:)?requests\b[^>]*>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const tag = m[0];
    const prefix = m[1] ? m[1].slice(0, -1) : undefined;
    const ns = prefix ? attrOf(tag, `xmlns:${prefix}`) : attrOf(tag, 'xmlns');
    if (ns !== undefined && ns !== REQUESTS_NS) continue;
    // getMetadata() returns the element without its namespace declaration: accept our prefix only then.
    if (ns === undefined && prefix !== undefined && prefix !== REQUESTS_PREFIX) continue;
    const done = attrOf(tag, 'done');
    if (done === undefined) continue;
    return done.split(/\s+/).filter((s) => s !== '');
  }
  return [];
}
