/**
 * Decoding of the virDomainInterface array virDomainInterfaceAddresses returns.
 * Owns: reading those C structures from memory and freeing them (each element, then the array).
 */
import { libvirt } from './ffi';

/** One IP address of a guest interface. */
export interface DomainIpAddress {
  type: 'ipv4' | 'ipv6';
  /** the address, without prefix length */
  address: string;
  /** the prefix length, e.g. 24 */
  prefix: number;
}

/** One guest network interface as libvirt reports it (virDomainInterface). */
export interface DomainInterface {
  /** the name: in the guest (agent source, e.g. eth0) or on the host (lease/arp, e.g. vnet0) */
  name: string;
  /** the MAC address, lower case; undefined when the source does not know it */
  hwaddr?: string;
  addresses: DomainIpAddress[];
}

/**
 * Decodes the `n` virDomainInterfacePtr at `array` and frees them and the array (the caller owns
 * both after a successful virDomainInterfaceAddresses). Freeing is plain memory: no I/O, so it is
 * done here on the calling thread.
 */
export function decodeInterfaces(array: bigint | null, n: number): DomainInterface[] {
  if (array === null) return [];
  const { koffi, fn } = libvirt();
  const pointers = n > 0 ? (koffi.decode(array, 'void *', n) as Array<bigint | null>) : [];
  try {
    return pointers.flatMap((p) => {
      if (p === null) return [];
      const iface = koffi.decode(p, 'virDomainInterface') as { name: string | null; hwaddr: string | null; naddrs: number; addrs: bigint | null };
      const raw = iface.addrs !== null && iface.naddrs > 0
        ? (koffi.decode(iface.addrs, 'virDomainIPAddress', iface.naddrs) as Array<{ type: number; addr: string | null; prefix: number }>)
        : [];
      const addresses: DomainIpAddress[] = raw.flatMap((a) => (a.addr === null ? [] : [{ type: a.type === 1 ? 'ipv6' as const : 'ipv4' as const, address: a.addr, prefix: a.prefix }]));
      return [{ name: iface.name ?? '', ...(iface.hwaddr ? { hwaddr: iface.hwaddr.toLowerCase() } : {}), addresses }];
    });
  } finally {
    for (const p of pointers) if (p !== null) fn.virDomainInterfaceFree(p);
    koffi.free(array);
  }
}
