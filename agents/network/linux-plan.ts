/**
 * The Linux network backend's plan, pure: from the desired networks and what the host has now, the
 * `ip` and `bridge` commands that converge the stb-/stx-/stv- devices, and nothing when they
 * already match. Devices without a Stratus prefix are never created, changed or deleted, except an
 * uplink the agent's configuration lists, which a bridge-mode network enslaves.
 */
import { cidrContains, cidrsOverlap, ipv4ToNumber, parseCidr, type Cidr } from '../../kube/networks';
import type { ObservedHost, ObservedLink } from './linux-observe';
import type { NatNetwork } from './nat-ruleset';
import type { HostNetworkSpec } from './types';

export interface Step {
  tool: 'ip' | 'bridge';
  args: string[];
}

export interface NetworkPlan {
  key: string;
  steps: Step[];
  /** why the network cannot be built as asked (its steps are then empty) */
  problem?: string;
}

export interface DevicePlan {
  /** devices no network needs and uplinks no network uses any more, before any network's steps */
  cleanup: Step[];
  networks: NetworkPlan[];
  /** the nat networks the nat table must serve */
  nat: NatNetwork[];
}

export const BRIDGE_NAME = /^stb-[0-9a-f]{10}$/;
export const VXLAN_NAME = /^stx-[0-9a-f]{10}$/;
export const VLAN_NAME = /^stv-[0-9a-f]{10}$/;
export const TAP_NAME = /^stt-[0-9a-f]{10}$/;

/** A VM's tap as the backend makes it: persistent, owned by the user qemu runs as, on its network's bridge. */
export interface TapPort {
  tap: string;
  bridge: string;
}
/** the prefixes of the devices this backend owns (stt- taps belong to libvirt) */
export const OWNED_PREFIXES = ['stb-', 'stx-', 'stv-'];

const ZERO_MAC = '00:00:00:00:00:00';
const VXLAN_PORT = 4789;

const ip = (...args: string[]): Step => ({ tool: 'ip', args });
const fdb = (...args: string[]): Step => ({ tool: 'bridge', args });
const isIpv4 = (s: unknown): s is string => typeof s === 'string' && ipv4ToNumber(s) !== undefined;
const isInt = (n: unknown, min: number, max: number): n is number => Number.isInteger(n) && (n as number) >= min && (n as number) <= max;

/** The Stratus devices a network needs, by name (whether or not it can be built now: a broken spec never deletes what exists). */
function neededDevices(n: HostNetworkSpec): string[] {
  const names = [n.bridge];
  if (n.mode === 'overlay' && n.vxlan) names.push(n.vxlan.device);
  if (n.mode === 'bridge' && n.uplink?.vlan !== undefined && n.uplink.vlanDevice) names.push(n.uplink.vlanDevice);
  return names.filter((d) => typeof d === 'string' && OWNED_PREFIXES.some((p) => d.startsWith(p)));
}

/** Master, MTU and up-state of an existing port device. */
function portSteps(dev: string, have: ObservedLink | undefined, bridge: string, mtu: number | undefined): Step[] {
  if (!have) return [];
  const steps: Step[] = [];
  if (mtu !== undefined && have.mtu !== mtu) steps.push(ip('link', 'set', 'dev', dev, 'mtu', String(mtu)));
  if (have.master !== bridge) steps.push(ip('link', 'set', 'dev', dev, 'master', bridge));
  if (!have.up) steps.push(ip('link', 'set', 'dev', dev, 'up'));
  return steps;
}

class Problem extends Error {}

interface Context {
  observed: ObservedHost;
  uplinks: ReadonlySet<string>;
  /** nat CIDRs already placed on this host, by network key */
  natCidrs: Array<{ key: string; cidr: Cidr }>;
  /** uplinks already enslaved directly by an earlier network */
  directUplinks: Map<string, string>;
}

function planNetwork(n: HostNetworkSpec, ctx: Context): Step[] {
  const { links, floods } = ctx.observed;
  if (!BRIDGE_NAME.test(n.bridge ?? '')) throw new Problem(`invalid bridge name ${JSON.stringify(n.bridge)}`);
  if (n.mtu !== undefined && !isInt(n.mtu, 576, 9000)) throw new Problem(`invalid mtu ${n.mtu}`);
  let cidr: Cidr;
  try {
    cidr = parseCidr(n.cidr);
  } catch (e) {
    throw new Problem((e as Error).message);
  }
  const mtu = n.mtu;
  const steps: Step[] = [];

  // mode-specific checks first, so a broken spec changes nothing
  let gateway: string | undefined;
  if (n.mode === 'nat') {
    gateway = n.gateway;
    if (!isIpv4(gateway) || !cidrContains(cidr, gateway)) throw new Problem(`nat network needs a gateway inside ${n.cidr}, got ${JSON.stringify(gateway)}`);
    const clash = ctx.natCidrs.find((o) => cidrsOverlap(o.cidr, cidr));
    if (clash) throw new Problem(`${n.cidr} overlaps nat network ${clash.key} on this host`);
    ctx.natCidrs.push({ key: n.key, cidr });
  } else if (n.mode === 'overlay') {
    const v = n.vxlan;
    if (!v || !VXLAN_NAME.test(v.device ?? '')) throw new Problem(`overlay network needs a VXLAN device named stx-…, got ${JSON.stringify(v?.device)}`);
    if (!isInt(v.vni, 1, 16777215)) throw new Problem(`invalid VNI ${v.vni}`);
    if (!isIpv4(v.local)) throw new Problem(`overlay network needs this host's underlay IPv4 address, got ${JSON.stringify(v.local)}`);
    if (v.port !== undefined && !isInt(v.port, 1, 65535)) throw new Problem(`invalid VXLAN port ${v.port}`);
    const bad = (v.remotes ?? []).find((r) => !isIpv4(r));
    if (bad !== undefined) throw new Problem(`invalid remote ${JSON.stringify(bad)}`);
  } else if (n.mode === 'bridge') {
    const u = n.uplink;
    if (!u?.device) throw new Problem('bridge network needs an uplink interface');
    if (!ctx.uplinks.has(u.device)) throw new Problem(`interface ${u.device} is not among this agent's uplinks`);
    const have = links.get(u.device);
    if (!have) throw new Problem(`uplink ${u.device} is not present on this host`);
    if (u.vlan !== undefined) {
      if (!isInt(u.vlan, 1, 4094)) throw new Problem(`invalid VLAN ${u.vlan}`);
      if (!VLAN_NAME.test(u.vlanDevice ?? '')) throw new Problem(`VLAN network needs a device named stv-…, got ${JSON.stringify(u.vlanDevice)}`);
    } else {
      const other = ctx.directUplinks.get(u.device);
      if (other) throw new Problem(`uplink ${u.device} is already the uplink of ${other} without a VLAN`);
      if (have.master && have.master !== n.bridge && !have.master.startsWith('stb-')) throw new Problem(`uplink ${u.device} is enslaved to ${have.master}, which is not Stratus's`);
      // enslaving an interface that carries the host's addresses would cut the host off
      if (have.ipv4.length > 0) throw new Problem(`uplink ${u.device} has addresses (${have.ipv4.join(', ')}); give it none or use a VLAN`);
      ctx.directUplinks.set(u.device, n.key);
    }
  } else {
    throw new Problem(`unknown mode ${JSON.stringify((n as { mode?: unknown }).mode)}`);
  }

  // the bridge
  let bridge = links.get(n.bridge);
  if (bridge && bridge.kind !== 'bridge') {
    steps.push(ip('link', 'del', 'dev', n.bridge));
    bridge = undefined;
  }
  if (!bridge) {
    steps.push(
      ip('link', 'add', 'name', n.bridge, ...(mtu !== undefined ? ['mtu', String(mtu)] : []), 'type', 'bridge'),
      // no IPv6 link-local address: guests must not reach the host through a bridge by IPv6
      ip('link', 'set', 'dev', n.bridge, 'addrgenmode', 'none'),
      ip('link', 'set', 'dev', n.bridge, 'up'),
    );
  } else {
    if (mtu !== undefined && bridge.mtu !== mtu) steps.push(ip('link', 'set', 'dev', n.bridge, 'mtu', String(mtu)));
    if (!bridge.up) steps.push(ip('link', 'set', 'dev', n.bridge, 'up'));
  }
  const wantAddrs = gateway ? [`${gateway}/${cidr.prefixLength}`] : [];
  const haveAddrs = bridge?.ipv4 ?? [];
  for (const a of haveAddrs) if (!wantAddrs.includes(a)) steps.push(ip('addr', 'del', a, 'dev', n.bridge));
  for (const a of wantAddrs) if (!haveAddrs.includes(a)) steps.push(ip('addr', 'add', a, 'dev', n.bridge));

  if (n.mode === 'overlay') {
    const v = n.vxlan!;
    const port = v.port ?? VXLAN_PORT;
    let have = links.get(v.device);
    const same = have?.kind === 'vxlan' && have.vxlan && have.vxlan.id === v.vni && have.vxlan.local === v.local && have.vxlan.port === port && !have.vxlan.learning;
    if (have && !same) {
      steps.push(ip('link', 'del', 'dev', v.device));
      have = undefined;
    }
    if (!have) {
      steps.push(
        ip('link', 'add', 'name', v.device, ...(mtu !== undefined ? ['mtu', String(mtu)] : []), 'type', 'vxlan', 'id', String(v.vni), 'local', v.local, 'dstport', String(port), 'nolearning'),
        ip('link', 'set', 'dev', v.device, 'master', n.bridge, 'up'),
      );
    } else {
      steps.push(...portSteps(v.device, have, n.bridge, mtu));
    }
    // one flood entry per remote: broadcast, unknown unicast and multicast go to every other host
    const want = new Set((v.remotes ?? []).filter((r) => r !== v.local));
    const current = have ? floods.get(v.device) ?? new Set<string>() : new Set<string>();
    for (const r of [...current].sort()) if (!want.has(r)) steps.push(fdb('fdb', 'del', ZERO_MAC, 'dev', v.device, 'dst', r));
    for (const r of [...want].sort()) if (!current.has(r)) steps.push(fdb('fdb', 'append', ZERO_MAC, 'dev', v.device, 'dst', r));
  }

  if (n.mode === 'bridge') {
    const u = n.uplink!;
    const uplink = links.get(u.device)!;
    if (!uplink.up) steps.push(ip('link', 'set', 'dev', u.device, 'up'));
    if (u.vlan !== undefined) {
      const dev = u.vlanDevice!;
      let have = links.get(dev);
      if (have && !(have.kind === 'vlan' && have.vlan?.id === u.vlan && have.parent === u.device)) {
        steps.push(ip('link', 'del', 'dev', dev));
        have = undefined;
      }
      if (!have) {
        steps.push(
          ip('link', 'add', 'link', u.device, 'name', dev, ...(mtu !== undefined ? ['mtu', String(mtu)] : []), 'type', 'vlan', 'id', String(u.vlan)),
          ip('link', 'set', 'dev', dev, 'master', n.bridge, 'up'),
        );
      } else {
        steps.push(...portSteps(dev, have, n.bridge, mtu));
      }
    } else if (uplink.master !== n.bridge) {
      steps.push(ip('link', 'set', 'dev', u.device, 'master', n.bridge));
    }
  }
  return steps;
}

/** The steps that make the host's Stratus devices match `networks` (in key order, so conflicts always resolve the same way). */
export function planDevices(networks: HostNetworkSpec[], observed: ObservedHost, uplinks: Iterable<string>, taps: readonly TapPort[] = [], tapOwner = 0): DevicePlan {
  const sorted = [...networks].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const ctx: Context = { observed, uplinks: new Set(uplinks), natCidrs: [], directUplinks: new Map() };
  const needed = new Set(sorted.flatMap(neededDevices));
  const plans: NetworkPlan[] = [];
  const bridges = new Set<string>();
  const nat: NatNetwork[] = [];
  for (const n of sorted) {
    try {
      if (bridges.has(n.bridge)) throw new Problem(`bridge ${n.bridge} is already used by another network`);
      bridges.add(n.bridge);
      plans.push({ key: n.key, steps: planNetwork(n, ctx) });
      if (n.mode === 'nat') nat.push({ bridge: n.bridge, cidr: n.cidr });
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      plans.push({ key: n.key, steps: [], problem: e.message });
    }
  }

  // taps, after their network's bridge: created when missing (a tap that exists, e.g. held by a
  // running qemu, is only put back on its bridge)
  const built = new Set(sorted.filter((n) => !plans.find((p) => p.key === n.key)?.problem).map((n) => n.bridge));
  const mtuOf = new Map(sorted.map((n) => [n.bridge, n.mtu]));
  const wantTaps = new Set<string>();
  for (const t of [...taps].sort((a, b) => (a.tap < b.tap ? -1 : 1))) {
    if (!TAP_NAME.test(t.tap) || !built.has(t.bridge) || wantTaps.has(t.tap)) continue;
    wantTaps.add(t.tap);
    const have = observed.links.get(t.tap);
    const mtu = mtuOf.get(t.bridge);
    const steps = have ? portSteps(t.tap, have, t.bridge, mtu) : [
      ip('tuntap', 'add', 'dev', t.tap, 'mode', 'tap', 'user', String(tapOwner)),
      ip('link', 'set', 'dev', t.tap, ...(mtu !== undefined ? ['mtu', String(mtu)] : []), 'master', t.bridge, 'up'),
    ];
    const plan = plans.find((p) => sorted.find((n) => n.key === p.key)?.bridge === t.bridge)!;
    plan.steps.push(...steps);
  }

  const cleanup: Step[] = [];
  // taps (tun devices) no VM here needs any more
  for (const l of [...observed.links.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (TAP_NAME.test(l.name) && l.kind === 'tun' && !wantTaps.has(l.name)) cleanup.push(ip('link', 'del', 'dev', l.name));
  }
  const links = [...observed.links.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  // an uplink still enslaved to a bridge that stays but no longer uses it directly
  for (const l of links) {
    if (!ctx.uplinks.has(l.name) || !l.master?.startsWith('stb-') || !needed.has(l.master)) continue;
    if (ctx.directUplinks.has(l.name) && sorted.some((n) => n.bridge === l.master && n.mode === 'bridge' && n.uplink?.device === l.name && n.uplink.vlan === undefined)) continue;
    cleanup.push(ip('link', 'set', 'dev', l.name, 'nomaster'));
  }
  // ports before bridges, so nothing is briefly attached to a bridge being deleted
  const stale = links.filter((l) => OWNED_PREFIXES.some((p) => l.name.startsWith(p)) && !needed.has(l.name));
  for (const l of stale) if (!l.name.startsWith('stb-')) cleanup.push(ip('link', 'del', 'dev', l.name));
  for (const l of stale) if (l.name.startsWith('stb-')) cleanup.push(ip('link', 'del', 'dev', l.name));
  return { cleanup, networks: plans, nat };
}
