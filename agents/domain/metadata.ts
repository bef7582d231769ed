/**
 * Domain XML builder: the ownership mark in libvirt metadata, and its parser. A domain is the
 * agent's only if it carries this element with the agent's host name; the agent never touches
 * other domains. Pure.
 */
import { attrOf, esc } from './xml';
import type { DomainOwner } from './types';

/** The XML namespace of the agent's metadata element. */
export const OWNER_NS = 'https://stratuslab.eu/xmlns/agent/1';
export const OWNER_PREFIX = 'stratus';

export function buildMetadata(owner: DomainOwner): string {
  const extra = `${owner.seed !== undefined ? ` seed='${esc(owner.seed)}'` : ''}${owner.sshPort !== undefined ? ` sshPort='${esc(owner.sshPort)}'` : ''}`;
  return [
    '<metadata>',
    `  <${OWNER_PREFIX}:vm xmlns:${OWNER_PREFIX}='${OWNER_NS}' uid='${esc(owner.uid)}' namespace='${esc(owner.namespace)}' name='${esc(owner.name)}' host='${esc(owner.host)}' generation='${esc(owner.generation)}'${extra}/>`,
    '</metadata>',
  ].join('\n');
}

/**
 * The owner recorded in a domain XML (whole document or just the metadata element), or
 * undefined when the domain carries no well-formed mark of ours.
 */
export function parseOwner(xml: string): DomainOwner | undefined {
  // libvirt rewrites the prefix as it likes; find the element declaring our namespace.
  const re = /<([A-Za-z_][\w.-]*:)?vm\b[^>]*>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const tag = m[0];
    const prefix = m[1] ? m[1].slice(0, -1) : undefined;
    const ns = prefix ? attrOf(tag, `xmlns:${prefix}`) : attrOf(tag, 'xmlns');
    // libvirt's getMetadata() returns the element without its namespace declaration.
    if (ns !== undefined && ns !== OWNER_NS) continue;
    const uid = attrOf(tag, 'uid');
    const namespace = attrOf(tag, 'namespace');
    const name = attrOf(tag, 'name');
    const host = attrOf(tag, 'host');
    const generation = Number(attrOf(tag, 'generation') ?? '0');
    if (!uid || namespace === undefined || !name || !host) continue;
    const seed = attrOf(tag, 'seed');
    const sshPort = Number(attrOf(tag, 'sshPort'));
    return {
      uid, namespace, name, host, generation: Number.isFinite(generation) ? generation : 0,
      ...(seed !== undefined ? { seed } : {}),
      ...(Number.isInteger(sshPort) && sshPort > 0 ? { sshPort } : {}),
    };
  }
  return undefined;
}
