/**
 * Security groups on the host, pure: the `nft -f` transaction that replaces table
 * `bridge stratus-fw` with one egress and one ingress chain per VM interface (tap), dispatched by
 * verdict maps on iifname/oifname so a packet costs one map lookup whatever the number of VMs.
 *
 * - prerouting (iifname tap → eg-<tap>): what a VM sends, on every path (to another port, to
 *   the host/gateway, to NAT): its own MAC and IPv4 (ARP and DHCP allowed), no DHCP server
 *   replies, only ARP and IPv4; then `egress` decides.
 * - forward and output (oifname tap → in-<tap>): what reaches a VM from another port or from
 *   the host: ARP, DHCP replies, replies to the VM's own traffic, else only what `ingress` allows.
 * Only IPv4 and ARP pass: networks are IPv4-only, and IPv6 would bypass the rules.
 * Interfaces not named stt-… (uplinks, other bridges) are never matched.
 */
import ipaddr from 'ipaddr.js';
import type { FirewallPort, FirewallRule } from './types';

export const FIREWALL_TABLE = 'stratus-fw';

export interface FirewallOptions {
  /** true when the kernel tracks bridged connections (CONFIG_NF_CONNTRACK_BRIDGE): replies match `ct state`; else stateless */
  conntrack: boolean;
}

const TAP = /^stt-[0-9a-f]{10}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'any']);

// Stateless reply matching (no bridge conntrack): TCP segments other than a bare SYN (a new
// connection always starts with one), ICMP errors and echo replies, DNS/NTP/DHCP answers.
const STATELESS_REPLIES = [
  'tcp flags & (syn | ack) != syn accept',
  'icmp type { echo-reply, destination-unreachable, time-exceeded } accept',
  'udp sport { 53, 67, 68, 123 } accept',
];

function ipv4(address: string, what: string): string {
  if (typeof address !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(address)) {
    throw new Error(`firewall: ${what} ${JSON.stringify(address)} is not an IPv4 address`);
  }
  return ipaddr.IPv4.parse(address).toString();
}

/** "10.0.0.0/24" or "10.0.0.5" (a /32) → [network, prefix] with the host bits cleared */
function cidrOf(text: string, what: string): { base: number; prefix: number } {
  if (typeof text !== 'string') throw new Error(`firewall: ${what} ${JSON.stringify(text)} is not an IPv4 CIDR`);
  const [addr, len, ...rest] = text.split('/');
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (rest.length > 0 || !(prefix >= 0 && prefix <= 32) || !ipaddr.IPv4.isValidFourPartDecimal(addr)) {
    throw new Error(`firewall: ${what} ${JSON.stringify(text)} is not an IPv4 CIDR`);
  }
  const o = ipaddr.IPv4.parse(addr).octets;
  const n = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (n & mask) >>> 0, prefix };
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The CIDRs as an nft set body, or 'any' when one of them is 0.0.0.0/0, or undefined when
 * empty. Contained and duplicate prefixes are dropped: nft refuses overlapping set intervals.
 */
function addressSet(cidrs: string[], what: string): string | 'any' | undefined {
  if (!Array.isArray(cidrs)) throw new Error(`firewall: ${what} cidrs must be an array`);
  const parsed = cidrs.map((c) => cidrOf(c, what)).sort((a, b) => a.prefix - b.prefix || a.base - b.base);
  if (parsed.some((c) => c.prefix === 0)) return 'any';
  const kept: Array<{ base: number; prefix: number }> = [];
  for (const c of parsed) {
    const covered = kept.some((k) => {
      const mask = (0xffffffff << (32 - k.prefix)) >>> 0;
      return ((c.base & mask) >>> 0) === k.base;
    });
    if (!covered) kept.push(c);
  }
  if (kept.length === 0) return undefined;
  return kept
    .sort((a, b) => a.base - b.base)
    .map((c) => (c.prefix === 32 ? dotted(c.base) : `${dotted(c.base)}/${c.prefix}`))
    .join(', ');
}

function portRange(ports: FirewallRule['ports'], what: string): string {
  const ok = (p: unknown) => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
  if (!ports || !ok(ports.from) || !ok(ports.to) || ports.from > ports.to) {
    throw new Error(`firewall: ${what} has invalid ports ${JSON.stringify(ports)}`);
  }
  return ports.from === ports.to ? String(ports.from) : `${ports.from}-${ports.to}`;
}

/** One accept rule, or undefined when it can match nothing (a rule whose cidrs are empty). */
function ruleLine(rule: FirewallRule, peer: 'saddr' | 'daddr', what: string): string | undefined {
  if (!rule || !PROTOCOLS.has(rule.protocol)) throw new Error(`firewall: ${what} has invalid protocol ${JSON.stringify(rule?.protocol)}`);
  if (rule.ports !== undefined && rule.protocol !== 'tcp' && rule.protocol !== 'udp') {
    throw new Error(`firewall: ${what} has ports but protocol ${rule.protocol}`);
  }
  const ports = rule.ports === undefined ? undefined : portRange(rule.ports, what);
  const set = addressSet(rule.cidrs, what);
  if (set === undefined) return undefined;
  const parts: string[] = [];
  if (set !== 'any') parts.push(`ip ${peer} { ${set} }`);
  if (ports !== undefined) parts.push(`${rule.protocol} dport ${ports}`);
  else if (rule.protocol !== 'any') parts.push(`ip protocol ${rule.protocol}`);
  parts.push('accept');
  return parts.join(' ');
}

function rulesOf(rules: FirewallRule[], peer: 'saddr' | 'daddr', what: string): string[] {
  if (!Array.isArray(rules)) throw new Error(`firewall: ${what} must be an array of rules`);
  return rules.map((r, i) => ruleLine(r, peer, `${what}[${i}]`)).filter((l): l is string => l !== undefined);
}

function replies(conntrack: boolean): string[] {
  return conntrack ? ['ct state established,related accept'] : STATELESS_REPLIES;
}

function chain(name: string, lines: string[]): string {
  return [`  chain ${name} {`, ...lines.map((l) => `    ${l}`), '  }'].join('\n');
}

function portChains(port: FirewallPort, opts: FirewallOptions): string[] {
  const what = `port ${port.tap}`;
  const mac = port.mac.toLowerCase();
  const address = port.address === undefined ? undefined : ipv4(port.address, `${what} address`);

  const egress = [
    `ether saddr != ${mac} drop`,
    `arp saddr ether != ${mac} drop`,
    ...(address ? [`arp saddr ip != ${address} drop`] : []),
    'ether type arp accept',
    'ether type != ip drop',
    // a VM may ask for an address (from 0.0.0.0 before it has one) but never answer as a server
    'udp sport 67 drop',
    address ? `ip saddr { 0.0.0.0, ${address} } udp sport 68 udp dport 67 accept` : 'udp sport 68 udp dport 67 accept',
    ...(address ? [`ip saddr != ${address} drop`] : []),
    ...(port.egress === 'all' ? ['accept'] : [...replies(opts.conntrack), ...rulesOf(port.egress, 'daddr', `${what} egress`), 'drop']),
  ];
  const ingress = [
    'ether type arp accept',
    'ether type != ip drop',
    'udp sport 67 udp dport 68 accept',
    ...replies(opts.conntrack),
    ...rulesOf(port.ingress, 'saddr', `${what} ingress`),
    'drop',
  ];
  return [chain(`eg-${port.tap}`, egress), chain(`in-${port.tap}`, ingress)];
}

function validatePorts(ports: FirewallPort[]): void {
  if (!Array.isArray(ports)) throw new Error('firewall: ports must be an array');
  const seen = new Set<string>();
  for (const p of ports) {
    if (typeof p?.tap !== 'string' || !TAP.test(p.tap)) throw new Error(`firewall: invalid interface name ${JSON.stringify(p?.tap)} (expected stt- and 10 hex digits)`);
    if (seen.has(p.tap)) throw new Error(`firewall: interface ${p.tap} is listed twice`);
    seen.add(p.tap);
    if (typeof p.mac !== 'string' || !MAC.test(p.mac.toLowerCase())) throw new Error(`firewall: port ${p.tap} has invalid MAC ${JSON.stringify(p.mac)}`);
    if (p.egress !== 'all' && !Array.isArray(p.egress)) throw new Error(`firewall: port ${p.tap} egress must be 'all' or an array of rules`);
  }
}

/**
 * The `nft -f` text that makes table `bridge stratus-fw` hold exactly the rules of `ports`, in one
 * atomic transaction (add + delete + define, so it works whether or not the table exists); with
 * no ports it only removes the table. Throws on any invalid input: nothing unchecked reaches nft.
 */
export function firewallRuleset(ports: FirewallPort[], opts: FirewallOptions): string {
  validatePorts(ports);
  const head = [`add table bridge ${FIREWALL_TABLE}`, `delete table bridge ${FIREWALL_TABLE}`];
  if (ports.length === 0) return head.join('\n') + '\n';
  const sorted = [...ports].sort((a, b) => (a.tap < b.tap ? -1 : a.tap > b.tap ? 1 : 0));
  const map = (prefix: string) => sorted.map((p) => `"${p.tap}" : jump ${prefix}-${p.tap}`).join(', ');
  // priority -200 (bridge "filter"): before br_netfilter hands bridged IPv4 to the ip hooks
  const base = (hook: string, dispatch: string) => [`type filter hook ${hook} priority -200; policy accept;`, dispatch];
  const body = [
    ...sorted.flatMap((p) => portChains(p, opts)),
    chain('prerouting', base('prerouting', `iifname vmap { ${map('eg')} }`)),
    chain('forward', base('forward', `oifname vmap { ${map('in')} }`)),
    chain('output', base('output', `oifname vmap { ${map('in')} }`)),
  ];
  return [...head, `table bridge ${FIREWALL_TABLE} {`, ...body, '}', ''].join('\n');
}
