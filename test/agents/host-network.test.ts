/**
 * The Linux network backend for real, in network namespaces the test makes: two "hosts" (h1, h2)
 * joined by a veth pair (the underlay, 192.168.77.0/24), a LinuxNetworkBackend in each, and
 * "VMs" that are namespaces plugged into the hosts' bridges by a veth whose host end is named like
 * a tap (stt-…). Overlay traffic crosses hosts over VXLAN, a nat network reaches its gateway and
 * the outside (masqueraded) but not another network, the firewall drops what no rule allows,
 * a repeated apply runs only read commands, and an empty state removes everything Stratus made
 * and nothing else.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { hostDeviceNames, macFor, tapName } from '../../kube/networks';
import { isHostNetworkError } from '../../agents/errors';
import { runIn, type RunOptions } from '../../agents/network/exec';
import { LinuxNetworkBackend } from '../../agents/network/linux';
import type { FirewallPort, HostNetworkSpec, HostNetworkState } from '../../agents/network/types';
import { describeIfAvailable } from '../helpers/prerequisites';

const H1 = 'stratus-t-h1';
const H2 = 'stratus-t-h2';
const VM1 = 'stratus-t-v1'; // overlay, on h1
const VM2 = 'stratus-t-v2'; // overlay, on h2
const VM3 = 'stratus-t-v3'; // nat A, on h1
const VM4 = 'stratus-t-v4'; // nat B, on h1
const ALL_NS = [H1, H2, VM1, VM2, VM3, VM4];

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nftables)';
  for (const [cmd, arg, pkg] of [['ip', '-V', 'iproute2'], ['bridge', '-V', 'iproute2'], ['nft', '--version', 'nftables'], ['ping', '-V', 'iputils-ping']]) {
    if (spawnSync(cmd, [arg], { stdio: 'ignore' }).error) return `${cmd} is not installed (apt package ${pkg})`;
  }
  return undefined;
}

/** Runs a command in namespace `ns` (the test's own namespaces only). */
function sh(ns: string, cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function ok(ns: string, cmd: string, ...args: string[]): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}
const ping = (ns: string, to: string, wait = 2) => ok(ns, 'ping', '-c', '1', '-W', String(wait), to);
/** true when a TCP connection to to:port gets the server's greeting within 1.5 s */
const connects = (ns: string, to: string, port: number) => ok(ns, process.execPath, '-e',
  `const s=require('net').connect({host:'${to}',port:${port},timeout:1500});s.on('data',()=>process.exit(0));s.on('timeout',()=>process.exit(2));s.on('error',()=>process.exit(3))`);

interface IpLink { ifname: string; master?: string; mtu: number; flags: string[]; linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number } } }
const links = (ns: string): IpLink[] => JSON.parse(sh(ns, 'ip', '-d', '-j', 'link', 'show'));
const link = (ns: string, name: string) => links(ns).find((l) => l.ifname === name);
const floods = (ns: string, dev: string) => (JSON.parse(sh(ns, 'bridge', '-j', 'fdb', 'show', 'dev', dev)) as Array<{ mac: string; dst?: string }>)
  .filter((e) => e.mac === '00:00:00:00:00:00' && e.dst).map((e) => e.dst!).sort();
const tables = (ns: string) => (JSON.parse(sh(ns, 'nft', '-j', 'list', 'tables')).nftables as Array<{ table?: { family: string; name: string } }>)
  .filter((i) => i.table).map((i) => `${i.table!.family} ${i.table!.name}`).sort();

/** Every command a backend runs, so a test can tell reads from changes. */
function recorder(netns: string) {
  const calls: string[][] = [];
  const run = (cmd: string, args: string[], opts?: RunOptions) => {
    calls.push([cmd, ...args]);
    return runIn(netns, cmd, args, opts);
  };
  return { calls, run };
}
const READS: RegExp[] = [/^ip -d -j addr show$/, /^ip -j link show$/, /^bridge -j fdb show$/, /^sysctl -n \S+$/, /^nft -j list table \S+ \S+$/];
const mutating = (calls: string[][]) => calls.map((c) => c.join(' ')).filter((c) => !READS.some((r) => r.test(c)));

const OVERLAY_UID = 'a1b2c3d4-0000-4000-8000-000000007701';
const NAT_A_UID = 'a1b2c3d4-0000-4000-8000-00000000a78a';
const NAT_B_UID = 'a1b2c3d4-0000-4000-8000-00000000b79b';
const BRIDGE_UID = 'a1b2c3d4-0000-4000-8000-00000000b00b';
const ov = hostDeviceNames(OVERLAY_UID);
const natA = hostDeviceNames(NAT_A_UID);
const natB = hostDeviceNames(NAT_B_UID);

function overlay(local: string, remotes: string[]): HostNetworkSpec {
  return { uid: OVERLAY_UID, key: 'p/ov', mode: 'overlay', bridge: ov.bridge, cidr: '10.77.0.0/24', mtu: 1450, vxlan: { device: ov.vxlan, vni: 7701, local, remotes } };
}
const NAT_A: HostNetworkSpec = { uid: NAT_A_UID, key: 'p/nat-a', mode: 'nat', bridge: natA.bridge, cidr: '10.78.0.0/24', gateway: '10.78.0.1' };
const NAT_B: HostNetworkSpec = { uid: NAT_B_UID, key: 'q/nat-b', mode: 'nat', bridge: natB.bridge, cidr: '10.79.0.0/24', gateway: '10.79.0.1' };

/** A "VM": namespace `vm` whose eth0 is the peer of tap `tap` on `host`'s `bridge`. */
function plugVm(host: string, bridge: string, vm: string, tap: string, mac: string, cidr: string, gateway?: string): void {
  execFileSync('ip', ['netns', 'add', vm]);
  sh(host, 'ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm);
  sh(host, 'ip', 'link', 'set', tap, 'master', bridge, 'up');
  sh(vm, 'ip', 'link', 'set', 'eth0', 'address', mac);
  sh(vm, 'ip', 'addr', 'add', cidr, 'dev', 'eth0');
  sh(vm, 'ip', 'link', 'set', 'eth0', 'up');
  sh(vm, 'ip', 'link', 'set', 'lo', 'up');
  if (gateway) sh(vm, 'ip', 'route', 'add', 'default', 'via', gateway);
}

describeIfAvailable('host-network.test.ts', missing())('the Linux host network backend', () => {
  const rec1 = recorder(H1);
  const rec2 = recorder(H2);
  const h1 = new LinuxNetworkBackend({ netns: H1, run: rec1.run });
  const h2 = new LinuxNetworkBackend({ netns: H2, run: rec2.run });
  const tap1 = tapName('vm-1', 0);
  const tap2 = tapName('vm-2', 0);
  const mac2 = macFor('vm-2', 0);
  let server: ChildProcess | undefined;

  const h1State = (remotes = ['192.168.77.2']): HostNetworkState => ({ networks: [overlay('192.168.77.1', remotes), NAT_A, NAT_B], ports: [] });
  const vm2Port = (ingress: FirewallPort['ingress']): FirewallPort => ({ tap: tap2, mac: mac2, address: '10.77.0.12', ingress, egress: 'all' });

  beforeAll(async () => {
    for (const ns of ALL_NS) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'add', H1]);
    execFileSync('ip', ['netns', 'add', H2]);
    sh(H1, 'ip', 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', H2);
    for (const [ns, addr] of [[H1, '192.168.77.1/24'], [H2, '192.168.77.2/24']]) {
      sh(ns, 'ip', 'addr', 'add', addr, 'dev', 'u0');
      sh(ns, 'ip', 'link', 'set', 'u0', 'up');
      sh(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    // a bridge that is not Stratus's: nothing may touch it
    sh(H1, 'ip', 'link', 'add', 'br-keep', 'type', 'bridge');

    await h1.apply(h1State());
    await h2.apply({ networks: [overlay('192.168.77.2', ['192.168.77.1'])], ports: [] });
    plugVm(H1, ov.bridge, VM1, tap1, macFor('vm-1', 0), '10.77.0.11/24');
    plugVm(H2, ov.bridge, VM2, tap2, mac2, '10.77.0.12/24');
    plugVm(H1, natA.bridge, VM3, tapName('vm-3', 0), macFor('vm-3', 0), '10.78.0.10/24', '10.78.0.1');
    plugVm(H1, natB.bridge, VM4, tapName('vm-4', 0), macFor('vm-4', 0), '10.79.0.10/24', '10.79.0.1');
  });

  afterAll(() => {
    if (server?.pid) server.kill();
    for (const ns of ALL_NS) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });

  test('an overlay network is a bridge with a VXLAN port flooding to the other hosts, and VMs on two hosts ping each other', () => {
    for (const [ns, local, remote] of [[H1, '192.168.77.1', '192.168.77.2'], [H2, '192.168.77.2', '192.168.77.1']]) {
      const br = link(ns, ov.bridge);
      expect(br).toMatchObject({ mtu: 1450, linkinfo: { info_kind: 'bridge' } });
      expect(br!.flags).toContain('UP');
      expect(link(ns, ov.vxlan)).toMatchObject({ master: ov.bridge, mtu: 1450, linkinfo: { info_kind: 'vxlan', info_data: { id: 7701, local, port: 4789 } } });
      expect(floods(ns, ov.vxlan)).toEqual([remote]);
    }
    expect(ping(VM1, '10.77.0.12')).toBe(true);
    expect(ping(VM2, '10.77.0.11')).toBe(true);
  });

  test('a nat network reaches its gateway and the outside through masquerade, but not another nat network', () => {
    expect(link(H1, natA.bridge)!.flags).toContain('UP');
    expect(sh(H1, 'ip', '-j', 'addr', 'show', 'dev', natA.bridge)).toContain('"local":"10.78.0.1","prefixlen":24');
    expect(sh(H1, 'sysctl', '-n', 'net.ipv4.ip_forward').trim()).toBe('1');
    expect(tables(H1)).toContain('ip stratus-nat');
    expect(ping(VM3, '10.78.0.1')).toBe(true);
    // h2 has no route back to 10.78.0.0/24: only a masqueraded packet gets an answer
    expect(ping(VM3, '192.168.77.2')).toBe(true);
    expect(ping(VM3, '10.79.0.10', 1)).toBe(false);
    expect(ping(VM4, '10.79.0.1')).toBe(true);
  });

  test('changing the remotes adds and removes flood entries, and the overlay keeps working', async () => {
    await h1.apply(h1State(['192.168.77.2', '192.168.77.9']));
    expect(floods(H1, ov.vxlan)).toEqual(['192.168.77.2', '192.168.77.9']);
    await h1.apply(h1State(['192.168.77.2']));
    expect(floods(H1, ov.vxlan)).toEqual(['192.168.77.2']);
    expect(ping(VM1, '10.77.0.12')).toBe(true);
  });

  test('applying the same state again runs read commands only', async () => {
    rec1.calls.length = 0;
    await h1.apply(h1State());
    expect(rec1.calls.length).toBeGreaterThan(0);
    expect(mutating(rec1.calls)).toEqual([]);
  });

  test('concurrent applies run one after the other and converge on the last state', async () => {
    await Promise.all([h1.apply(h1State(['192.168.77.2', '192.168.77.8'])), h1.apply(h1State(['192.168.77.2', '192.168.77.7'])), h1.apply(h1State())]);
    expect(floods(H1, ov.vxlan)).toEqual(['192.168.77.2']);
  });

  test('the firewall drops a connection no ingress rule allows and passes it once a rule does', async () => {
    server = spawn('ip', ['netns', 'exec', VM2, process.execPath, '-e', "require('net').createServer((s)=>s.end('hi\\n')).listen(5000,'0.0.0.0',()=>console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.on('data', () => resolve());
      server!.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    expect(connects(VM1, '10.77.0.12', 5000)).toBe(true);

    const icmpOnly = { networks: [overlay('192.168.77.2', ['192.168.77.1'])], ports: [vm2Port([{ protocol: 'icmp', cidrs: ['10.77.0.0/24'] }])] };
    await h2.apply(icmpOnly);
    expect(tables(H2)).toContain('bridge stratus-fw');
    expect(ping(VM1, '10.77.0.12')).toBe(true);
    expect(connects(VM1, '10.77.0.12', 5000)).toBe(false);

    const withTcp = { ...icmpOnly, ports: [vm2Port([{ protocol: 'icmp', cidrs: ['10.77.0.0/24'] }, { protocol: 'tcp', ports: { from: 5000, to: 5000 }, cidrs: ['10.77.0.0/24'] }])] };
    await h2.apply(withTcp);
    expect(connects(VM1, '10.77.0.12', 5000)).toBe(true);

    rec2.calls.length = 0;
    await h2.apply(withTcp);
    expect(mutating(rec2.calls)).toEqual([]);
  });

  test('a bridge network enslaves an uplink only when the agent lists it', async () => {
    sh(H1, 'ip', 'link', 'add', 'upl0', 'type', 'veth', 'peer', 'name', 'upl0p');
    const names = hostDeviceNames(BRIDGE_UID);
    const net: HostNetworkSpec = { uid: BRIDGE_UID, key: 'p/flat', mode: 'bridge', bridge: names.bridge, cidr: '10.80.0.0/24', uplink: { device: 'upl0' } };
    const state = { ...h1State(), networks: [...h1State().networks, net] };

    const err = await h1.apply(state).catch((e: unknown) => e);
    expect(isHostNetworkError(err) && err.failures).toEqual([{ network: 'p/flat', message: expect.stringContaining('not among this agent\'s uplinks') }]);
    expect(link(H1, 'upl0')!.master).toBeUndefined();
    expect(ping(VM1, '10.77.0.12')).toBe(true); // the other networks were still converged

    const withUplink = new LinuxNetworkBackend({ netns: H1, uplinks: ['upl0', 'absent0'] });
    expect(await withUplink.capabilities()).toEqual({ modes: ['nat', 'overlay', 'bridge'], interfaces: ['upl0'] });
    expect(await h1.capabilities()).toEqual({ modes: ['nat', 'overlay'], interfaces: [] });
    await withUplink.apply(state);
    expect(link(H1, 'upl0')).toMatchObject({ master: names.bridge });
    await withUplink.apply(h1State());
    expect(link(H1, names.bridge)).toBeUndefined();
    expect(link(H1, 'upl0')!.master).toBeUndefined();
  });

  test('an empty state removes every Stratus device and both tables, and leaves the rest alone', async () => {
    await h1.apply({ networks: [], ports: [] });
    await h2.apply({ networks: [], ports: [] });
    for (const ns of [H1, H2]) {
      expect(links(ns).map((l) => l.ifname).filter((n) => /^st[bxv]-/.test(n))).toEqual([]);
      expect(tables(ns).filter((t) => t.includes('stratus'))).toEqual([]);
      expect(link(ns, 'u0')!.flags).toContain('UP');
    }
    expect(link(H1, 'br-keep')).toMatchObject({ linkinfo: { info_kind: 'bridge' } });
    expect(link(H1, 'upl0')).toBeDefined();
    rec1.calls.length = 0;
    await h1.apply({ networks: [], ports: [] });
    expect(mutating(rec1.calls)).toEqual([]);
  });
});
