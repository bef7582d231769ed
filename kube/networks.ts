// Networks, pure: the address arithmetic of a Network's CIDR (ipaddr.js), the checks of its spec,
// how a VM interface names its Network, and the names of what a host builds for it. Shared by
// the API (admission), the scheduler (address claims), the network controller and the agents.

import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { NetworkSpec, VirtualMachineSpec } from '../schemas/types.gen';

/** Holds a Network while VMs use it: removed by the network controller once none does. */
export const NETWORK_FINALIZER = 'stratuslab.eu/network-in-use';

/** Smallest and largest prefix length of a Network's CIDR. */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

export interface Cidr {
  /** the network address, e.g. 10.20.0.0 */
  network: string;
  prefixLength: number;
  /** the network address as a number */
  first: number;
  /** the broadcast address as a number */
  last: number;
}

/** An IPv4 address as a number (0..2^32-1), or undefined when it is not a dotted-quad IPv4 address. */
export function ipv4ToNumber(address: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return undefined;
  const b = ipaddr.IPv4.parse(address).octets;
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses an IPv4 CIDR; throws an Error saying why when it is not one (host bits set included). */
export function parseCidr(cidr: string): Cidr {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    throw new Error(`${JSON.stringify(cidr)} is not a CIDR such as 10.20.0.0/24`);
  }
  const [addr, prefixLength] = parsed;
  if (addr.kind() !== 'ipv4' || !ipaddr.IPv4.isValidFourPartDecimal(cidr.split('/')[0])) throw new Error(`${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  const n = ipv4ToNumber(addr.toString())!;
  const size = 2 ** (32 - prefixLength);
  const first = Math.floor(n / size) * size;
  if (first !== n) throw new Error(`${JSON.stringify(cidr)} has host bits set: the network is ${numberToIpv4(first)}/${prefixLength}`);
  return { network: numberToIpv4(first), prefixLength, first, last: first + size - 1 };
}

export function cidrContains(c: Cidr, address: string): boolean {
  const n = ipv4ToNumber(address);
  return n !== undefined && n >= c.first && n <= c.last;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** A reserved entry ("a.b.c.d" or "a.b.c.d-e.f.g.h") as an inclusive numeric range, or a reason it is not one. */
export function parseRange(entry: string): { from: number; to: number } | string {
  const [a, b] = entry.split('-');
  const from = ipv4ToNumber(a);
  const to = b === undefined ? from : ipv4ToNumber(b);
  if (from === undefined || to === undefined) return 'must be an IPv4 address or a range a.b.c.d-e.f.g.h';
  if (to < from) return 'the range ends before it starts';
  return { from, to };
}

/** The guests' gateway: spec.gateway, else (mode nat) the first usable address, else none. */
export function effectiveGateway(spec: Pick<NetworkSpec, 'cidr' | 'gateway' | 'mode'>): string | undefined {
  if (spec.gateway) return spec.gateway;
  if ((spec.mode ?? 'nat') !== 'nat') return undefined;
  return numberToIpv4(parseCidr(spec.cidr).first + 1);
}

/** The MTU of the network: spec.mtu, else 1450 for overlay (room for the VXLAN header), else 1500. */
export function effectiveMtu(spec: Pick<NetworkSpec, 'mtu' | 'mode'>): number {
  return spec.mtu ?? (spec.mode === 'overlay' ? 1450 : 1500);
}

/**
 * The addresses that may be handed out, as sorted disjoint inclusive ranges: the CIDR minus its
 * network and broadcast addresses, the gateway and the reserved entries.
 */
export function usableRanges(spec: Pick<NetworkSpec, 'cidr' | 'gateway' | 'mode' | 'reserved'>): Array<{ from: number; to: number }> {
  const c = parseCidr(spec.cidr);
  const excluded: Array<{ from: number; to: number }> = [];
  const gw = effectiveGateway(spec);
  if (gw) excluded.push({ from: ipv4ToNumber(gw)!, to: ipv4ToNumber(gw)! });
  for (const r of spec.reserved ?? []) {
    const range = parseRange(r);
    if (typeof range !== 'string') excluded.push(range);
  }
  excluded.sort((x, y) => x.from - y.from);
  const out: Array<{ from: number; to: number }> = [];
  let next = c.first + 1;
  const end = c.last - 1;
  for (const e of excluded) {
    if (e.from > next) out.push({ from: next, to: Math.min(e.from - 1, end) });
    next = Math.max(next, e.to + 1);
    if (next > end) break;
  }
  if (next <= end) out.push({ from: next, to: end });
  return out.filter((r) => r.from <= r.to);
}

export function countUsable(ranges: ReadonlyArray<{ from: number; to: number }>): number {
  return ranges.reduce((n, r) => n + (r.to - r.from + 1), 0);
}

export function rangesContain(ranges: ReadonlyArray<{ from: number; to: number }>, address: string): boolean {
  const n = ipv4ToNumber(address);
  return n !== undefined && ranges.some((r) => n >= r.from && n <= r.to);
}

/** One problem of a Network spec: the field and what is wrong. */
export interface SpecProblem {
  field: string;
  message: string;
}

/** What is wrong with a Network spec beyond its schema (CIDR arithmetic, gateway, reserved, mode). */
export function networkSpecProblems(spec: NetworkSpec): SpecProblem[] {
  let c: Cidr;
  try {
    c = parseCidr(spec.cidr);
  } catch (err) {
    return [{ field: 'spec.cidr', message: (err as Error).message }];
  }
  const out: SpecProblem[] = [];
  if (c.prefixLength < MIN_PREFIX || c.prefixLength > MAX_PREFIX) {
    out.push({ field: 'spec.cidr', message: `the prefix length must be between ${MIN_PREFIX} and ${MAX_PREFIX}, not ${c.prefixLength}` });
  }
  const inside = (field: string, address: string) => {
    const n = ipv4ToNumber(address);
    if (n === undefined) out.push({ field, message: `${JSON.stringify(address)} is not an IPv4 address` });
    else if (n <= c.first || n >= c.last) out.push({ field, message: `${address} is not a usable address of ${spec.cidr}` });
  };
  if (spec.gateway !== undefined) inside('spec.gateway', spec.gateway);
  (spec.reserved ?? []).forEach((r, i) => {
    const range = parseRange(r);
    if (typeof range === 'string') out.push({ field: `spec.reserved[${i}]`, message: range });
    else if (range.from < c.first || range.to > c.last) out.push({ field: `spec.reserved[${i}]`, message: `${r} is not inside ${spec.cidr}` });
  });
  const mode = spec.mode ?? 'nat';
  if (mode === 'bridge' && !spec.bridge) out.push({ field: 'spec.bridge', message: 'is required when mode is bridge (the host interface to bridge onto)' });
  if (mode !== 'bridge' && spec.bridge) out.push({ field: 'spec.bridge', message: 'is only allowed when mode is bridge' });
  if (mode !== 'overlay' && spec.vni !== undefined) out.push({ field: 'spec.vni', message: 'is only allowed when mode is overlay' });
  return out;
}

/** A VM interface's Network as {namespace, name}, or undefined when it is on no Network (user-mode, legacy). */
export function networkRefOf(vmNamespace: string, iface: { network?: string }): { namespace: string; name: string } | undefined {
  if (!iface.network) return undefined;
  const slash = iface.network.indexOf('/');
  return slash < 0 ? { namespace: vmNamespace, name: iface.network } : { namespace: iface.network.slice(0, slash), name: iface.network.slice(slash + 1) };
}

/** The interfaces of a VM that are on Networks, with their index in spec.networks (the MAC and tap derive from it). */
export function networkInterfaces(vmNamespace: string, spec: Pick<VirtualMachineSpec, 'networks'>): Array<{ index: number; name: string; ref: { namespace: string; name: string }; ipAddress?: string; securityGroups: string[] }> {
  const out = [];
  for (const [index, n] of (spec.networks ?? []).entries()) {
    const ref = networkRefOf(vmNamespace, n);
    if (ref) out.push({ index, name: n.name, ref, ...(n.ipAddress ? { ipAddress: n.ipAddress } : {}), securityGroups: n.securityGroups ?? [] });
  }
  return out;
}

/** A stable locally administered MAC (QEMU's 52:54:00 prefix) for interface `index` of VM `uid`. */
export function macFor(uid: string, index: number): string {
  const h = createHash('sha256').update(`${uid}/${index}`).digest();
  return ['52', '54', '00', h[0], h[1], h[2]].map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b)).join(':');
}

/** The AddressClaim of `address` on Network `network` (in the Network's project). */
export function addressClaimName(network: string, address: string): string {
  return `${network}.${address}`;
}

/** The VXLAN network identifier of an overlay network without spec.vni: 24 bits of its uid's hash (never 0). */
export function derivedVni(uid: string): number {
  const h = createHash('sha256').update(uid).digest();
  return ((h[0] << 16) | (h[1] << 8) | h[2]) || 1;
}

function hex10(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 10);
}

/** What a host builds for a Network, named from its uid (Linux allows 15 characters). */
export function hostDeviceNames(networkUid: string): { bridge: string; vxlan: string; vlan: string } {
  const h = hex10(networkUid);
  return { bridge: `stb-${h}`, vxlan: `stx-${h}`, vlan: `stv-${h}` };
}

/** The host end (tap) of interface `index` of VM `vmUid`. */
export function tapName(vmUid: string, index: number): string {
  return `stt-${hex10(`${vmUid}/${index}`)}`;
}
