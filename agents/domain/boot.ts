/**
 * Domain XML builder: the <os> element (firmware boot from the first disk, or direct kernel boot
 * with kernel/initrd/cmdline from an Image) and the <features> a PC guest needs.
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';
import type { DomainSpec } from './types';

export function buildBoot(spec: Pick<DomainSpec, 'boot' | 'virtType'>): string {
  const machine = spec.virtType === 'test' ? '' : ` machine='pc'`;
  const lines = [`<type arch='x86_64'${machine}>hvm</type>`];
  if (spec.boot) {
    lines.push(`<kernel>${esc(spec.boot.kernel)}</kernel>`);
    if (spec.boot.initrd) lines.push(`<initrd>${esc(spec.boot.initrd)}</initrd>`);
    if (spec.boot.cmdline) lines.push(`<cmdline>${esc(spec.boot.cmdline)}</cmdline>`);
  } else {
    lines.push(`<boot dev='hd'/>`);
  }
  const os = ['<os>', ...lines.map((l) => `  ${l}`), '</os>'];
  // ACPI lets a graceful shutdown reach the guest; the test driver ignores features.
  if (spec.virtType !== 'test') os.push('<features>', '  <acpi/>', '  <apic/>', '</features>');
  return os.join('\n');
}
