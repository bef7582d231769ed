/**
 * status.interfaces and status.ip from what libvirt reports of a running guest: its interfaces
 * matched to spec.networks by MAC, loopback and link-local addresses left out, addresses sorted
 * (IPv4 first), the first source that knows an interface winning (the guest agent before DHCP
 * leases). An interface no source knows keeps its last known addresses, so a guest agent that is
 * not up yet, or a failed query, never makes addresses flap. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { InterfaceStatus } from '../../schemas/types.gen';
import type { DomainInterface } from '../../libvirt';

export type InfoSource = NonNullable<InterfaceStatus['infoSource']>;
export type PortForward = NonNullable<InterfaceStatus['forwards']>[number];

/** What one source answered. */
export interface AddressAnswer {
  source: InfoSource;
  interfaces: readonly DomainInterface[];
}

/** One interface of the spec (spec.networks order). */
export interface SpecNic {
  name: string;
  mac: string;
  forwards?: PortForward[];
}

/**
 * Loopback, link-local, unspecified and (deprecated) site-local addresses: nothing another machine
 * can reach the guest at (qemu's user-mode network gives every guest fec0::/64 besides 10.0.2.15).
 */
export function isUsableAddress(address: string): boolean {
  if (isIPv4(address)) return !/^(127\.|169\.254\.|0\.)/.test(address);
  if (isIPv6(address)) {
    const a = address.toLowerCase();
    return a !== '::1' && a !== '::' && !/^fe[89a-f][0-9a-f]?:/.test(a);
  }
  return false;
}

function ipv4Key(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** IPv4 before IPv6; IPv4 numerically, IPv6 by text. */
export function compareAddresses(a: string, b: string): number {
  const a4 = isIPv4(a);
  const b4 = isIPv4(b);
  if (a4 !== b4) return a4 ? -1 : 1;
  if (a4) return ipv4Key(a) - ipv4Key(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An interface's primary address: its first IPv4 address, else its first one. */
function primary(addresses: readonly string[]): string | undefined {
  return addresses.find((a) => isIPv4(a)) ?? addresses[0];
}

/** The interface of `answer` with MAC `mac`, with its usable addresses sorted, if it has any. */
function found(answer: AddressAnswer, mac: string): { interfaceName?: string; addresses: string[] } | undefined {
  const want = mac.toLowerCase();
  for (const i of answer.interfaces) {
    if (i.hwaddr?.toLowerCase() !== want) continue;
    const addresses = [...new Set(i.addresses.map((a) => a.address).filter(isUsableAddress))].sort(compareAddresses);
    if (addresses.length === 0) continue;
    // Only the guest agent names the interface as the guest does (a lease names the host's tap).
    return { interfaceName: answer.source === 'guest-agent' && i.name ? i.name : undefined, addresses };
  }
  return undefined;
}

export interface AddressStatus {
  interfaces: InterfaceStatus[];
  /** the VM's primary address: the first IPv4 address of the interfaces in order, else the first address */
  ip?: string;
}

/**
 * The interfaces of a running VM, from the sources' answers in order of preference (those that
 * failed are simply absent) and what status said before.
 */
export function interfacesStatus(nics: readonly SpecNic[], answers: readonly AddressAnswer[], previous: readonly InterfaceStatus[] | undefined): AddressStatus {
  const interfaces = nics.map((nic): InterfaceStatus => {
    const base: InterfaceStatus = { name: nic.name, mac: nic.mac };
    let known: Pick<InterfaceStatus, 'interfaceName' | 'ipAddress' | 'ipAddresses' | 'infoSource'> | undefined;
    for (const answer of answers) {
      const f = found(answer, nic.mac);
      if (!f) continue;
      known = { ...(f.interfaceName ? { interfaceName: f.interfaceName } : {}), ipAddress: primary(f.addresses), ipAddresses: f.addresses, infoSource: answer.source };
      break;
    }
    if (!known) {
      const before = previous?.find((p) => p.name === nic.name && p.mac === nic.mac);
      if (before?.ipAddresses?.length) {
        known = {
          ...(before.interfaceName ? { interfaceName: before.interfaceName } : {}),
          ipAddress: before.ipAddress, ipAddresses: [...before.ipAddresses], ...(before.infoSource ? { infoSource: before.infoSource } : {}),
        };
      }
    }
    const out: InterfaceStatus = { ...base, ...(known ?? {}) };
    if (out.ipAddress === undefined) delete out.ipAddress;
    if (nic.forwards?.length) out.forwards = nic.forwards.map((f) => ({ ...f }));
    return out;
  });
  const all = interfaces.flatMap((i) => i.ipAddresses ?? []);
  const ip = all.find((a) => isIPv4(a)) ?? all[0];
  return { interfaces, ...(ip ? { ip } : {}) };
}

/** True when every interface has an address (the poller may slow down). */
export function allAddressed(s: AddressStatus): boolean {
  return s.interfaces.length > 0 && s.interfaces.every((i) => (i.ipAddresses?.length ?? 0) > 0);
}
