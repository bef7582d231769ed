/**
 * How the agent names what it creates in libvirt, and how it maps those names back to
 * VirtualMachine keys. Namespaces, VM names and disk names are DNS labels (no dots), so
 * dot-separated names are unambiguous. Pure.
 */

/** The libvirt domain of VM `namespace/name`: "namespace.name". */
export function domainName(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}

/** The work-queue key ("namespace/name") of a domain name, or undefined if it is not one of ours. */
export function keyOfDomainName(domain: string): string | undefined {
  const parts = domain.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return `${parts[0]}/${parts[1]}`;
}

const VOLUME_PREFIX = 'stratus';

/** The first 8 hex digits of a uid: distinguishes incarnations of a VM with the same name. */
export function uidTag(uid: string): string {
  return uid.replace(/-/g, '').slice(0, 8).toLowerCase();
}

/** The volume backing disk `disk` of VM `namespace/name` (uid): "stratus.ns.name.disk.uid8". */
export function vmVolumeName(namespace: string, name: string, disk: string, uid: string): string {
  return `${VOLUME_PREFIX}.${namespace}.${name}.${disk}.${uidTag(uid)}`;
}

/** The volume of a Volume object `namespace/name`: "stratus.ns.name.vol". */
export function volumeObjectVolumeName(namespace: string, name: string): string {
  return `${VOLUME_PREFIX}.${namespace}.${name}.vol`;
}

export interface ParsedVmVolume {
  namespace: string;
  name: string;
  disk: string;
  uidTag: string;
}

/** The VM disk a volume name belongs to, or undefined if the volume is not a VM disk of ours. */
export function parseVmVolumeName(volume: string): ParsedVmVolume | undefined {
  const p = volume.split('.');
  if (p.length !== 5 || p[0] !== VOLUME_PREFIX || !/^[0-9a-f]{8}$/.test(p[4])) return undefined;
  return { namespace: p[1], name: p[2], disk: p[3], uidTag: p[4] };
}

/** The cloud-init seed ISO of VM `namespace/name`, within its host's seed folder. */
export function seedFileName(namespace: string, name: string): string {
  return `${namespace}.${name}.iso`;
}

/** The console log file name of VM `namespace/name`. */
export function consoleLogName(namespace: string, name: string): string {
  return `${namespace}.${name}.log`;
}

export { VM_FINALIZER, VOLUME_FINALIZER } from '../kube/names';
