/**
 * Storage volume XML builder: a blank qcow2 volume, or a copy-on-write overlay whose backing
 * file is an Image (the clone costs no copy; libvirt runs `qemu-img create -b`). Pure.
 */
import { esc } from './xml';

export interface VolumeSpec {
  name: string;
  capacityBytes: number;
  /** a copy-on-write clone of this file */
  backing?: { path: string; format: 'qcow2' | 'raw' };
}

export function buildVolumeXml(v: VolumeSpec): string {
  if (!Number.isSafeInteger(v.capacityBytes) || v.capacityBytes < 1) throw new RangeError(`capacityBytes must be a positive integer, got ${v.capacityBytes}`);
  const lines = [
    `<volume>`,
    `  <name>${esc(v.name)}</name>`,
    `  <capacity unit='bytes'>${v.capacityBytes}</capacity>`,
    // Thin: qcow2 allocates on write.
    `  <allocation unit='bytes'>0</allocation>`,
    `  <target>`,
    `    <format type='qcow2'/>`,
    `  </target>`,
  ];
  if (v.backing) {
    lines.push(`  <backingStore>`, `    <path>${esc(v.backing.path)}</path>`, `    <format type='${esc(v.backing.format)}'/>`, `  </backingStore>`);
  }
  lines.push(`</volume>`);
  return lines.join('\n');
}
