/**
 * Domain XML builder: one <disk> per VM disk, in boot order, with target names by bus
 * (virtio: vda, vdb...; sata/scsi: sda, sdb...), then the cloud-init seed as the last virtio disk,
 * read-only (the guest kernel has virtio drivers, not always ATA ones for a cdrom).
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';
import type { DomainDisk } from './types';

/** The n-th device name with `prefix`: 0 → a, 25 → z, 26 → aa (as libvirt and Linux name them). */
export function deviceName(prefix: string, n: number): string {
  let s = '';
  let i = n;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return prefix + s;
}

/** Target device names for `disks`, counted per bus family. */
export function diskTargets(disks: Pick<DomainDisk, 'bus'>[]): string[] {
  let vd = 0;
  let sd = 0;
  return disks.map((d) => (d.bus === 'virtio' ? deviceName('vd', vd++) : deviceName('sd', sd++)));
}

export function buildDisks(disks: DomainDisk[], seed?: string): string {
  const targets = diskTargets(disks);
  const out = disks
    .map((d, i) =>
      [
        `<disk type='file' device='disk'>`,
        `  <driver name='qemu' type='${esc(d.format)}'/>`,
        `  <source file='${esc(d.path)}'/>`,
        `  <target dev='${targets[i]}' bus='${esc(d.bus)}'/>`,
        `  <alias name='ua-disk-${esc(d.name)}'/>`,
        `</disk>`,
      ].join('\n'),
    );
  if (seed !== undefined) {
    const vd = disks.filter((d) => d.bus === 'virtio').length;
    out.push([
      `<disk type='file' device='disk'>`,
      `  <driver name='qemu' type='raw'/>`,
      `  <source file='${esc(seed)}'/>`,
      `  <target dev='${deviceName('vd', vd)}' bus='virtio'/>`,
      `  <readonly/>`,
      `  <alias name='ua-cloudinit'/>`,
      `</disk>`,
    ].join('\n'));
  }
  return out.join('\n');
}
