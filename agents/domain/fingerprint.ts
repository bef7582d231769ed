/**
 * The parts of a domain definition the agent manages, read back from domain XML, so that the
 * definition libvirt holds can be compared with the one the spec asks for (libvirt adds defaults,
 * reorders attributes and quotes, so the documents themselves never compare equal). Pure.
 */
import { jsonEqual } from '../../kube/equal';
import { attrOf, unesc } from './xml';
import { parseOwner } from './metadata';

export interface DomainFingerprint {
  type?: string;
  uuid?: string;
  ownerUid?: string;
  memoryKiB?: number;
  vcpus?: number;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  disks: { source?: string; target?: string; bus?: string }[];
  nics: { type?: string; mac?: string; model?: string; network?: string; tap?: string; mtu?: number }[];
  /** the serial port's file (test driver) or unix socket (real hosts) */
  serial?: string;
  /** the serial port's log file (real hosts) */
  serialLog?: string;
  /** the VNC display, if any: "vnc" and its unix socket, if it has one */
  graphics?: string;
  /** the cloud-init seed's content hash in our metadata */
  seed?: string;
  /** qemu command-line arguments (<qemu:commandline>: the user-mode network on real hosts) */
  qemuArgs: string[];
  /** the target names of the <channel> devices (the guest agent's) */
  channels: string[];
}

function text(xml: string, element: string): string | undefined {
  const m = new RegExp(`<${element}(\\s[^>]*)?>([^<]*)</${element}>`).exec(xml);
  return m ? unesc(m[2].trim()) : undefined;
}

function tag(xml: string, element: string): string | undefined {
  return new RegExp(`<${element}\\b[^>]*>`).exec(xml)?.[0];
}

function blocks(xml: string, element: string): string[] {
  return [...xml.matchAll(new RegExp(`<${element}\\b[^>]*>[\\s\\S]*?</${element}>`, 'g'))].map((m) => m[0]);
}

function toKiB(value: string | undefined, unit: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const factor: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 ** 2, gib: 1024 ** 2 };
  return Math.round(n * (factor[(unit ?? 'KiB').toLowerCase()] ?? 1));
}

/** "vnc" (a port) or "vnc:SOCKET" of the first VNC display, libvirt's read-back included. */
function graphicsOf(xml: string): string | undefined {
  const g = /<graphics\b[^>]*>/.exec(xml)?.[0];
  if (!g || attrOf(g, 'type') !== 'vnc') return undefined;
  const socket = attrOf(g, 'socket');
  return socket ? `vnc:${socket}` : 'vnc';
}

function mtuOf(iface: string): number | undefined {
  const size = attrOf(tag(iface, 'mtu') ?? '', 'size');
  return size === undefined ? undefined : Number(size);
}

export function fingerprintOf(xml: string): DomainFingerprint {
  const memTag = tag(xml, 'memory');
  const os = blocks(xml, 'os')[0] ?? '';
  const serial = blocks(xml, 'serial')[0];
  const vcpu = text(xml, 'vcpu');
  return {
    type: attrOf(tag(xml, 'domain') ?? '', 'type'),
    uuid: text(xml, 'uuid'),
    ownerUid: parseOwner(xml)?.uid,
    memoryKiB: toKiB(text(xml, 'memory'), memTag ? attrOf(memTag, 'unit') : undefined),
    vcpus: vcpu === undefined ? undefined : Number(vcpu),
    kernel: text(os, 'kernel'),
    initrd: text(os, 'initrd'),
    cmdline: text(os, 'cmdline'),
    disks: blocks(xml, 'disk').map((d) => ({
      source: attrOf(tag(d, 'source') ?? '', 'file'),
      target: attrOf(tag(d, 'target') ?? '', 'dev'),
      bus: attrOf(tag(d, 'target') ?? '', 'bus'),
    })),
    nics: blocks(xml, 'interface').map((n) => ({
      type: attrOf(tag(n, 'interface') ?? '', 'type'),
      mac: attrOf(tag(n, 'mac') ?? '', 'address'),
      model: attrOf(tag(n, 'model') ?? '', 'type'),
      network: attrOf(tag(n, 'source') ?? '', 'network'),
      // the tap of an interface on a Network (libvirt names the others itself, on the live domain)
      tap: attrOf(tag(n, 'interface') ?? '', 'type') === 'ethernet' ? attrOf(tag(n, 'target') ?? '', 'dev') : undefined,
      mtu: mtuOf(n),
    })),
    serial: serial ? attrOf(tag(serial, 'source') ?? '', 'path') : undefined,
    serialLog: serial ? attrOf(tag(serial, 'log') ?? '', 'file') : undefined,
    graphics: graphicsOf(xml),
    seed: parseOwner(xml)?.seed,
    // libvirt may write the pass-through namespace with any prefix.
    qemuArgs: [...xml.matchAll(/<(?:[A-Za-z_][\w.-]*:)?arg\s[^>]*>/g)].map((m) => attrOf(m[0], 'value') ?? ''),
    channels: blocks(xml, 'channel').map((c) => attrOf(tag(c, 'target') ?? '', 'name') ?? ''),
  };
}

/** The managed fields that differ between two definitions (empty: nothing to repair). */
export function fingerprintDiff(want: DomainFingerprint, have: DomainFingerprint): string[] {
  const out: string[] = [];
  const keys = Object.keys(want) as (keyof DomainFingerprint)[];
  for (const k of keys) {
    if (!jsonEqual(want[k], have[k])) out.push(k);
  }
  return out;
}
