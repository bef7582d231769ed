/**
 * Real guests on a real virtual network, end to end: a shared `nat` Network, two Debian VMs of
 * project demo and one of project other on it, each given its address by the scheduler's address
 * claims and cloud-init's network-config (no DHCP). The agent builds the bridge, the taps, the NAT
 * table and the security-group rules for real (root netns of this machine, only stb-/stt- devices
 * and the stratus-* tables). Then: the test logs in over SSH at the handed-out address; the two VMs
 * of demo reach each other; the VM of project other reaches neither of them, nor they it (default
 * isolation); the nat network reaches the host (its gateway); a SecurityGroup allowing ICMP,
 * attached live, lets the other project's VM in. Needs qemu, libvirtd, root, nft, mmdebstrap and
 * xorriso: fails in CI without them.
 */
import { execFileSync } from 'node:child_process';
import { describeIfAvailable } from '../helpers/prerequisites';
import { debianImage, debianVm, guestUnavailable, startGuestRig, LIBVIRTD_UID, PROJECT, type GuestRig } from '../helpers/guest-rig';
import { until } from '../helpers/wait';

const OTHER = 'other';
const NET = 'lan';
const CIDR = '10.93.0.0/24';
const GATEWAY = '10.93.0.1';
const BOOT_MS = 300_000; // TCG, three guests booting at once on two cores

function missing(): string | undefined {
  const guest = guestUnavailable();
  if (guest) return guest;
  try {
    execFileSync('sh', ['-c', 'command -v nft && command -v ip'], { stdio: 'ignore' });
  } catch {
    return 'nft and ip are needed (scripts/apt-packages.txt: nftables, iproute2)';
  }
  return undefined;
}

describeIfAvailable('guest-network.test.ts', missing())('real guests on a virtual network', () => {
  let rig: GuestRig;
  const within = (timeoutMs: number) => ({ timeoutMs, everyMs: 1000, context: () => rig.logs() });

  beforeAll(async () => {
    rig = await startGuestRig('gnet', {
      agentEnv: { STRATUS_NETWORK_BACKEND: 'linux', STRATUS_NETWORK_TAP_OWNER: String(LIBVIRTD_UID), STRATUS_NETWORK_ADDRESS: '127.0.0.1' },
    });
  }, 600_000);

  afterAll(async () => {
    if (process.env.STRATUS_TEST_LOG) process.stderr.write(rig?.logs() ?? '');
    await rig?.close();
  }, 180_000);

  async function vm(namespace: string, name: string): Promise<any> {
    const r = await rig.cli(['get', 'vm', name, '-n', namespace, '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  }

  /** `stratus ssh` into a VM (at its handed-out address), retried until the guest answers. */
  async function ssh(namespace: string, name: string, command: string, opts: { untilUp?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const run = () => rig.cli(['ssh', '-n', namespace, name, '--', command]);
    if (!opts.untilUp) return run();
    let last = '';
    return until(`an SSH login to ${namespace}/${name}`, async () => {
      const r = await run();
      last = `${r.code} ${r.stderr.slice(-300)}`;
      return r.code === 0 ? r : undefined;
    }, { timeoutMs: BOOT_MS, everyMs: 3000, context: () => `last ssh: ${last}\n${rig.logs()}` });
  }

  const ping = (from: [string, string], to: string) => ssh(from[0], from[1], `ping -c 2 -W 2 ${to} >/dev/null && echo reached || echo unreachable`);

  test('two VMs of a project reach each other at their claimed addresses, another project is isolated, the nat network reaches the host', async () => {
    const iface = (network: string) => [{ name: 'lan', network }];
    const applied = await rig.apply([
      { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: OTHER }, spec: {} },
      debianImage(OTHER),
      { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { name: NET, namespace: PROJECT }, spec: { cidr: CIDR, mode: 'nat', shared: true } },
      debianVm(rig, 'a', { memory: '768Mi', networks: iface(NET) }),
      debianVm(rig, 'b', { memory: '768Mi', networks: iface(NET) }),
      debianVm(rig, 'c', { memory: '768Mi', namespace: OTHER, networks: iface(`${PROJECT}/${NET}`) }),
    ]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    // addresses are handed out at scheduling, before any guest boots
    const addr: Record<string, string> = {};
    for (const [ns, name] of [[PROJECT, 'a'], [PROJECT, 'b'], [OTHER, 'c']]) {
      const o = await until(`${ns}/${name} running with an address`, async () => {
        const v = await vm(ns, name);
        return v?.status?.phase === 'Running' && v.status.addresses?.length === 1 ? v : undefined;
      }, within(240_000));
      expect(o.status.addresses[0]).toMatchObject({ name: 'lan', network: `${PROJECT}/${NET}`, prefixLength: 24, gateway: GATEWAY });
      addr[name] = o.status.addresses[0].ipAddress;
    }
    expect(new Set(Object.values(addr)).size).toBe(3);
    for (const ip of Object.values(addr)) expect(ip).toMatch(/^10\.93\.0\.\d+$/);

    // the host reaches each guest over the network (SSH at the handed-out address), and the guest has that address
    for (const [ns, name] of [[PROJECT, 'a'], [PROJECT, 'b'], [OTHER, 'c']]) {
      const r = await ssh(ns, name, 'ip -4 -o addr show', { untilUp: true });
      expect(r.stdout).toContain(`${addr[name]}/24`);
    }

    // kubectl-style listing: the network counts its leases
    const nets = await rig.cli(['get', 'networks', '-n', PROJECT]);
    expect(nets.stdout).toMatch(new RegExp(`${NET}\\s+${CIDR.replace(/\./g, '\\.')}\\s+nat\\s+3\\s+250`));

    expect((await ping([PROJECT, 'a'], addr.b)).stdout.trim()).toBe('reached');
    expect((await ping([PROJECT, 'b'], addr.a)).stdout.trim()).toBe('reached');
    expect((await ping([PROJECT, 'a'], GATEWAY)).stdout.trim()).toBe('reached');
    // projects are isolated on a shared network: neither direction passes
    expect((await ping([OTHER, 'c'], addr.a)).stdout.trim()).toBe('unreachable');
    expect((await ping([PROJECT, 'a'], addr.c)).stdout.trim()).toBe('unreachable');

    // a security group attached live lets ICMP from the other project in
    const sg = await rig.apply([
      { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'icmp', namespace: PROJECT }, spec: { ingress: [{ protocol: 'icmp', cidr: CIDR }, { protocol: 'tcp', ports: '22', cidr: '0.0.0.0/0' }] } },
      debianVm(rig, 'a', { memory: '768Mi', networks: [{ name: 'lan', network: NET, securityGroups: ['icmp'] }] }),
    ]);
    expect(sg.code).toBe(0);
    await until('the other project to reach a through the security group', async () => (await ping([OTHER, 'c'], addr.a)).stdout.trim() === 'reached', within(60_000));

    // the host side exists while VMs use it, under Stratus' own names only
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    expect(links).toMatch(/stb-[0-9a-f]{10}/);
    expect((links.match(/stt-[0-9a-f]{10}/g) ?? []).length).toBeGreaterThanOrEqual(3);

    // deleting the VMs releases the addresses; the network, no longer used, is deleted and its bridge removed
    for (const [ns, name] of [[PROJECT, 'a'], [PROJECT, 'b'], [OTHER, 'c']]) {
      expect((await rig.cli(['delete', 'vm', name, '-n', ns, '--wait=false'])).code).toBe(0);
    }
    expect((await rig.cli(['delete', 'network', NET, '-n', PROJECT, '--wait=false'])).code).toBe(0);
    await until('the network to be gone', async () => (await rig.cli(['get', 'network', NET, '-n', PROJECT])).code !== 0, within(240_000));
    await until('the bridge and taps to be removed', () => !/st[bt]-[0-9a-f]{10}/.test(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })), within(60_000));
  }, 900_000);
});
