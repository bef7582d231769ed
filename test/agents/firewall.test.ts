// Security groups enforced by the kernel: a "host" namespace with a bridge (holding the gateway
// address) and two "VMs", each a namespace joined to the bridge by a veth whose host end is named
// like a VM tap; the firewall ruleset is applied there with nft and proved with real traffic.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { runIn } from '../../agents/network/exec';
import { firewallRuleset } from '../../agents/network/firewall';
import { bridgeConntrack } from '../../agents/network/firewall-probe';
import type { FirewallPort, FirewallRule } from '../../agents/network/types';
import { describeIfAvailable } from '../helpers/prerequisites';

function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, nft)';
  for (const [cmd, args, pkg] of [['nft', ['--version'], 'nftables'], ['ip', ['-V'], 'iproute2'], ['ping', ['-V'], 'iputils-ping'], ['nc', ['-h'], 'netcat-openbsd']] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `${cmd} not found: install the Debian package ${pkg}`;
    }
  }
  return undefined;
}

const HOST = `sfw${process.pid}h`;
const VA = `sfw${process.pid}a`;
const VB = `sfw${process.pid}b`;
const BRIDGE = 'stb-0f0f0f0f0f';
const GATEWAY = '10.77.0.1';
const A = { ns: VA, tap: 'stt-aaaaaaaaaa', mac: '52:54:00:77:00:0a', address: '10.77.0.2' };
const B = { ns: VB, tap: 'stt-bbbbbbbbbb', mac: '52:54:00:77:00:0b', address: '10.77.0.3' };
const tcp8080From = (cidr: string): FirewallRule => ({ protocol: 'tcp', ports: { from: 8080, to: 8080 }, cidrs: [cidr] });
const icmpFrom = (cidr: string): FirewallRule => ({ protocol: 'icmp', cidrs: [cidr] });

function port(vm: typeof A, ingress: FirewallRule[], egress: FirewallRule[] | 'all' = 'all'): FirewallPort {
  return { tap: vm.tap, mac: vm.mac, address: vm.address, ingress, egress };
}

async function sh(ns: string | undefined, cmd: string, ...args: string[]): Promise<string> {
  return (await runIn(ns, cmd, args, { timeoutMs: 10_000 })).stdout;
}

/** true when the command succeeds */
async function works(ns: string, cmd: string, ...args: string[]): Promise<boolean> {
  return sh(ns, cmd, ...args).then(() => true, () => false);
}

const ping = (ns: string, to: string, ...extra: string[]) => works(ns, 'ping', '-c', '1', '-W', '1', ...extra, to);
const connect8080 = (ns: string, to: string) => works(ns, 'nc', '-z', '-w', '1', to, '8080');

async function applyFirewall(ports: FirewallPort[]): Promise<void> {
  await runIn(HOST, 'nft', ['-f', '-'], { input: firewallRuleset(ports, { conntrack: false }) });
}

describeIfAvailable('firewall.test.ts', missing())('security groups in a bridge namespace (nft bridge stratus-fw)', () => {
  let listener: ChildProcess | undefined;

  beforeAll(async () => {
    for (const ns of [HOST, VA, VB]) await sh(undefined, 'ip', 'netns', 'add', ns);
    await sh(HOST, 'ip', 'link', 'add', BRIDGE, 'type', 'bridge');
    await sh(HOST, 'ip', 'addr', 'add', `${GATEWAY}/24`, 'dev', BRIDGE);
    await sh(HOST, 'ip', 'link', 'set', BRIDGE, 'up');
    for (const vm of [A, B]) {
      await sh(HOST, 'ip', 'link', 'add', vm.tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm.ns);
      await sh(HOST, 'ip', 'link', 'set', vm.tap, 'master', BRIDGE, 'up');
      await sh(vm.ns, 'ip', 'link', 'set', 'eth0', 'address', vm.mac, 'up');
      await sh(vm.ns, 'ip', 'addr', 'add', `${vm.address}/24`, 'dev', 'eth0');
    }
    // fixed neighbours, so that a spoofed source is stopped by the IP check, not by ARP
    await sh(VA, 'ip', 'neigh', 'replace', B.address, 'lladdr', B.mac, 'dev', 'eth0', 'nud', 'permanent');
    await sh(VB, 'ip', 'neigh', 'replace', '10.77.0.9', 'lladdr', A.mac, 'dev', 'eth0', 'nud', 'permanent');
    listener = spawn('ip', ['netns', 'exec', VB, 'nc', '-lk', '8080'], { stdio: 'ignore' });
    // without a firewall everything flows (and the listener is up)
    for (let i = 0; i < 20 && !(await connect8080(VA, B.address)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await connect8080(VA, B.address)).toBe(true);
  });

  afterAll(async () => {
    listener?.kill();
    for (const ns of [HOST, VA, VB]) await sh(undefined, 'ip', 'netns', 'delete', ns).catch(() => undefined);
  });

  test('a VM with no ingress rule accepts no new connection and no ping, from VMs or the host', async () => {
    await applyFirewall([port(A, []), port(B, [])]);
    expect(await connect8080(VA, B.address)).toBe(false);
    expect(await ping(VA, B.address)).toBe(false);
    expect(await ping(HOST, B.address)).toBe(false);
    // its own traffic still gets answers: egress all, replies pass statelessly
    expect(await ping(VA, GATEWAY)).toBe(true);
  });

  test('an ingress rule for tcp/8080 from the peer\'s address lets the connect through, and only that', async () => {
    await applyFirewall([port(A, []), port(B, [tcp8080From(`${A.address}/32`)])]);
    expect(await connect8080(VA, B.address)).toBe(true);
    expect(await ping(VA, B.address)).toBe(false);
    expect(await connect8080(HOST, B.address)).toBe(false);
  });

  test('ping replies work only where an icmp rule allows the request', async () => {
    await applyFirewall([port(A, []), port(B, [tcp8080From(`${A.address}/32`), icmpFrom('10.77.0.0/24')])]);
    expect(await ping(VA, B.address)).toBe(true);
    expect(await ping(HOST, B.address)).toBe(true);
    expect(await ping(VB, A.address)).toBe(false);
    expect(await ping(HOST, A.address)).toBe(false);
  });

  test('a VM sending with a spoofed source address or MAC is dropped', async () => {
    await applyFirewall([port(A, []), port(B, [icmpFrom('10.77.0.0/24')])]);
    await sh(VA, 'ip', 'addr', 'add', '10.77.0.9/24', 'dev', 'eth0');
    try {
      expect(await ping(VA, B.address, '-I', '10.77.0.9')).toBe(false);
      expect(await ping(VA, B.address, '-I', A.address)).toBe(true);
    } finally {
      await sh(VA, 'ip', 'addr', 'del', '10.77.0.9/24', 'dev', 'eth0');
    }
    await sh(VA, 'ip', 'link', 'set', 'eth0', 'address', '52:54:00:77:00:ff');
    try {
      expect(await ping(VA, B.address)).toBe(false);
    } finally {
      await sh(VA, 'ip', 'link', 'set', 'eth0', 'address', A.mac);
    }
  });

  test('egress rules limit what a VM sends', async () => {
    await applyFirewall([port(A, [], [tcp8080From(`${B.address}/32`)]), port(B, [tcp8080From('0.0.0.0/0'), icmpFrom('0.0.0.0/0')])]);
    expect(await connect8080(VA, B.address)).toBe(true);
    expect(await ping(VA, B.address)).toBe(false);
  });

  test('no ports removes the table, also when it is already gone; traffic flows again', async () => {
    await applyFirewall([]);
    await applyFirewall([]);
    expect(await sh(HOST, 'nft', 'list', 'tables')).not.toMatch(/stratus-fw/);
    expect(await ping(VB, A.address)).toBe(true);
  });

  test('the bridge conntrack probe answers and leaves no table behind; the answer matches what the kernel takes', async () => {
    const conntrack = await bridgeConntrack({ netns: HOST });
    expect(typeof conntrack).toBe('boolean');
    expect(await sh(HOST, 'nft', 'list', 'tables')).not.toMatch(/stratus-probe/);
    const stateful = runIn(HOST, 'nft', ['-c', '-f', '-'], { input: firewallRuleset([port(A, [])], { conntrack: true }) });
    if (conntrack) await expect(stateful).resolves.toEqual({ stdout: '' });
    else await expect(stateful).rejects.toThrow(/ct state/);
  });
});
