/**
 * Domain XML builder: network interfaces. The network named "default" is user-mode networking
 * (no host setup needed); any other name is a libvirt network of that name on the host.
 * Pure; one of the small builders composed by domain.ts.
 */
import { createHash } from 'node:crypto';
import { esc } from './xml';
import type { DomainNic } from './types';

/** A stable locally administered MAC (QEMU's 52:54:00 prefix) for interface `index` of VM `uid`. */
export function macFor(uid: string, index: number): string {
  const h = createHash('sha256').update(`${uid}/${index}`).digest();
  return ['52', '54', '00', h[0], h[1], h[2]].map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b)).join(':');
}

export function buildNetwork(nics: DomainNic[]): string {
  return nics
    .map((n) => {
      const head = n.name === 'default' ? `<interface type='user'>` : `<interface type='network'>`;
      const lines = [head];
      if (n.name !== 'default') lines.push(`  <source network='${esc(n.name)}'/>`);
      lines.push(`  <mac address='${esc(n.mac)}'/>`, `  <model type='${esc(n.model)}'/>`, `</interface>`);
      return lines.join('\n');
    })
    .join('\n');
}
