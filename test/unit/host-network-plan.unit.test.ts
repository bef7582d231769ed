/**
 * The Linux network backend's plan, without I/O: what it creates for each mode (VLAN uplinks
 * included, which the kernel of the integration test may lack), what it refuses, and that it
 * deletes only devices with a Stratus prefix.
 */
import { parseLinks, type ObservedHost, type ObservedLink } from '../../agents/network/linux-observe';
import { planDevices, type Step } from '../../agents/network/linux-plan';
import { natRuleset } from '../../agents/network/nat-ruleset';
import type { HostNetworkSpec } from '../../agents/network/types';

const B = 'stb-0123456789';
const V = 'stv-0123456789';
const X = 'stx-0123456789';

function host(links: Array<Partial<ObservedLink> & { name: string }>, floods: Record<string, string[]> = {}): ObservedHost {
  return {
    links: new Map(links.map((l) => [l.name, { mtu: 1500, up: true, ipv4: [], ...l }])),
    floods: new Map(Object.entries(floods).map(([k, v]) => [k, new Set(v)])),
  };
}
const lines = (steps: Step[]) => steps.map((s) => `${s.tool} ${s.args.join(' ')}`);

describe('planDevices', () => {
  test('a VLAN bridge network creates the stv- sub-interface of a listed uplink and enslaves it', () => {
    const net: HostNetworkSpec = { uid: 'u', key: 'p/v', mode: 'bridge', bridge: B, cidr: '10.1.0.0/24', uplink: { device: 'eth1', vlan: 42, vlanDevice: V } };
    const plan = planDevices([net], host([{ name: 'eth1', ipv4: ['192.0.2.5/24'] }]), ['eth1']);
    expect(lines(plan.networks[0].steps)).toEqual([
      `ip link add name ${B} type bridge`,
      `ip link set dev ${B} addrgenmode none`,
      `ip link set dev ${B} up`,
      `ip link add link eth1 name ${V} type vlan id 42`,
      `ip link set dev ${V} master ${B} up`,
    ]);
    // a VLAN on another id is rebuilt
    const wrongId = host([{ name: 'eth1' }, { name: B, kind: 'bridge' }, { name: V, kind: 'vlan', vlan: { id: 7 }, parent: 'eth1', master: B }]);
    expect(lines(planDevices([net], wrongId, ['eth1']).networks[0].steps)).toEqual([
      `ip link del dev ${V}`,
      `ip link add link eth1 name ${V} type vlan id 42`,
      `ip link set dev ${V} master ${B} up`,
    ]);
  });

  test('a bridge network refuses an unlisted uplink, one with addresses, and one enslaved elsewhere', () => {
    const net: HostNetworkSpec = { uid: 'u', key: 'p/v', mode: 'bridge', bridge: B, cidr: '10.1.0.0/24', uplink: { device: 'eth1' } };
    const problem = (h: ObservedHost, uplinks: string[]) => planDevices([net], h, uplinks).networks[0];
    expect(problem(host([{ name: 'eth1' }]), [])).toEqual({ key: 'p/v', steps: [], problem: expect.stringContaining('not among') });
    expect(problem(host([{ name: 'eth1', ipv4: ['192.0.2.5/24'] }]), ['eth1']).problem).toMatch(/has addresses/);
    expect(problem(host([{ name: 'eth1', master: 'br0' }]), ['eth1']).problem).toMatch(/enslaved to br0/);
    expect(problem(host([]), ['eth1']).problem).toMatch(/not present/);
  });

  test('a second nat network overlapping the first is refused, and a broken spec deletes nothing', () => {
    const a: HostNetworkSpec = { uid: 'a', key: 'p/a', mode: 'nat', bridge: B, cidr: '10.1.0.0/24', gateway: '10.1.0.1' };
    const b: HostNetworkSpec = { uid: 'b', key: 'q/b', mode: 'nat', bridge: 'stb-aaaaaaaaaa', cidr: '10.1.0.0/16', gateway: '10.1.0.1' };
    const plan = planDevices([b, a], host([{ name: 'stb-aaaaaaaaaa', kind: 'bridge' }]), []);
    expect(plan.networks.map((n) => [n.key, n.problem])).toEqual([['p/a', undefined], ['q/b', expect.stringContaining('overlaps nat network p/a')]]);
    expect(plan.nat).toEqual([{ bridge: B, cidr: '10.1.0.0/24' }]);
    expect(plan.cleanup).toEqual([]);
  });

  test('an existing overlay with other parameters is rebuilt; matching ones only get their flood entries fixed', () => {
    const net: HostNetworkSpec = { uid: 'o', key: 'p/o', mode: 'overlay', bridge: B, cidr: '10.2.0.0/24', vxlan: { device: X, vni: 9, local: '192.0.2.1', remotes: ['192.0.2.1', '192.0.2.3'] } };
    const same = host([{ name: B, kind: 'bridge' }, { name: X, kind: 'vxlan', master: B, vxlan: { id: 9, local: '192.0.2.1', port: 4789, learning: false } }], { [X]: ['192.0.2.2'] });
    expect(lines(planDevices([net], same, []).networks[0].steps)).toEqual([
      `bridge fdb del 00:00:00:00:00:00 dev ${X} dst 192.0.2.2`,
      `bridge fdb append 00:00:00:00:00:00 dev ${X} dst 192.0.2.3`,
    ]);
    const otherVni = host([{ name: B, kind: 'bridge' }, { name: X, kind: 'vxlan', master: B, vxlan: { id: 8, local: '192.0.2.1', port: 4789, learning: false } }], { [X]: ['192.0.2.3'] });
    expect(lines(planDevices([net], otherVni, []).networks[0].steps)).toEqual([
      `ip link del dev ${X}`,
      `ip link add name ${X} type vxlan id 9 local 192.0.2.1 dstport 4789 nolearning`,
      `ip link set dev ${X} master ${B} up`,
      `bridge fdb append 00:00:00:00:00:00 dev ${X} dst 192.0.2.3`,
    ]);
  });

  test('cleanup deletes only unneeded stb-/stx-/stv- devices, ports first, and releases a listed uplink', () => {
    const h = host([
      { name: 'eth0', ipv4: ['192.0.2.1/24'] }, { name: 'br-keep', kind: 'bridge' }, { name: 'stt-0000000001', master: 'stb-1111111111' },
      { name: 'stb-1111111111', kind: 'bridge' }, { name: 'stx-1111111111', kind: 'vxlan', master: 'stb-1111111111' },
      { name: B, kind: 'bridge' }, { name: 'eth1', master: B },
    ]);
    const keep: HostNetworkSpec = { uid: 'k', key: 'p/k', mode: 'nat', bridge: B, cidr: '10.3.0.0/24', gateway: '10.3.0.1' };
    expect(lines(planDevices([keep], h, ['eth1']).cleanup)).toEqual([
      'ip link set dev eth1 nomaster',
      'ip link del dev stx-1111111111',
      'ip link del dev stb-1111111111',
    ]);
  });

  test('parseLinks reads kinds, masters, addresses and VXLAN parameters from ip -d -j', () => {
    const json = JSON.stringify([
      { ifname: B, flags: ['UP'], mtu: 1450, linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
      { ifname: X, flags: [], mtu: 1450, master: B, linkinfo: { info_kind: 'vxlan', info_data: { id: 5, local: '192.0.2.1', port: 4789, learning: false } } },
    ]);
    const l = parseLinks(json);
    expect(l.get(B)).toMatchObject({ kind: 'bridge', up: true, ipv4: ['10.0.0.1/24'] });
    expect(l.get(X)).toMatchObject({ up: false, master: B, vxlan: { id: 5, local: '192.0.2.1', port: 4789, learning: false } });
  });
});

describe('natRuleset', () => {
  test('masquerades each nat CIDR out of non-Stratus interfaces and keeps nat bridges apart; no networks, no table', () => {
    const text = natRuleset([{ bridge: B, cidr: '10.1.0.0/24' }])!;
    expect(text).toContain('ip saddr 10.1.0.0/24 oifname != "stb-*" masquerade');
    expect(text).toContain(`iifname "${B}" oifname "stb-*" oifname != "${B}" drop`);
    expect(text.startsWith('add table ip stratus-nat\ndelete table ip stratus-nat\n')).toBe(true);
    expect(natRuleset([])).toBeUndefined();
    expect(() => natRuleset([{ bridge: 'br0', cidr: '10.1.0.0/24' }])).toThrow(/invalid bridge/);
  });
});
