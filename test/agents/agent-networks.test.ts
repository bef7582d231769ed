/**
 * VMs on Networks, the agent's side, against a real Cassandra node and libvirt's test driver
 * (the scheduler is not running: status.host and status.addresses are written here as it would):
 * the domain opens the VM's tap, the seed's network-config holds the static address, the host's
 * network backend (none: it records what it was asked to build) gets the bridge, the VXLAN
 * remotes from another Host's status and the VM's port (its tap on the bridge, its security
 * groups' rules), the Host reports its networking, and everything goes with the VM.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StoredObject } from '../../store';
import type { HostStatus } from '../../schemas/types.gen';
import { writeTestHost, type LibvirtConnection } from '../../libvirt';
import { derivedVni, hostDeviceNames, macFor, tapName } from '../../kube/networks';
import type { NoneNetworkBackend } from '../../agents/network/none';
import type { HostNetworkState } from '../../agents/network/types';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';
import { describeIfAvailable } from '../helpers/prerequisites';

const HOST = 'hv-net';
const OTHER = 'hv-other';
const UNDERLAY = '192.0.2.10';

function hasXorriso(): string | undefined {
  try {
    execFileSync('xorriso', ['-version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'xorriso is not installed (scripts/apt-packages.txt: xorriso)';
  }
}

describeIfAvailable('agent-networks.test.ts', hasXorriso())('the agent and VMs on Networks', () => {
  let agent: TestAgent;
  let conn: LibvirtConnection;
  let net: StoredObject;

  beforeAll(async () => {
    agent = await startTestAgent({
      name: 'networks', seeds: 'on',
      network: { address: UNDERLAY, repairMs: 2000 },
      hosts: async (dir) => [{
        name: HOST,
        libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/pools/default', capacityBytes: 50 * 1024 ** 3 }] }),
      }],
      timings: { renewIntervalMs: 200, fenceAfterMs: 3000, heartbeatIntervalMs: 300, resyncMs: 1500, shutdownGraceMs: 300 },
    });
    conn = agent.proc.agents[0].conn!;
    const store = agent.t.store;
    net = await store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { name: 'net', namespace: 'demo' },
      spec: { cidr: '10.20.0.0/24', mode: 'overlay', gateway: '10.20.0.1', dns: ['10.20.0.1'] },
    });
    // Another host that built the network: this host's VXLAN remote.
    await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host', metadata: { name: OTHER }, spec: {} });
    await store.guaranteedUpdate({ kind: 'Host', namespace: '', name: OTHER }, (cur) => {
      cur.status = { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }], networks: [{ network: 'demo/net', uid: net.metadata.uid!, mode: 'overlay', ready: true }] } satisfies HostStatus;
      return cur;
    }, { status: true });
    await store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'ssh', namespace: 'demo' },
      spec: { ingress: [{ protocol: 'tcp', ports: '22', cidr: '203.0.113.0/24' }, { protocol: 'tcp', ports: '8000-8100', securityGroup: 'web' }] },
    });
    await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'SecurityGroup', metadata: { name: 'web', namespace: 'demo' }, spec: {} });
    await setGroupAddresses('web', ['10.20.0.9']);
  });

  afterAll(() => agent?.stop());

  const key = (name: string) => vmKey('demo', name);
  const vm = (name: string) => agent.t.store.get(key(name));
  const backend = () => agent.proc.agents[0].network.backend as NoneNetworkBackend;
  const hostStatus = async () => (await agent.t.store.get({ kind: 'Host', namespace: '', name: HOST }))?.status as HostStatus | undefined;
  const cond = (o: StoredObject | undefined, type: string) => (o?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);

  async function setGroupAddresses(name: string, addresses: string[]): Promise<void> {
    await agent.t.store.guaranteedUpdate({ kind: 'SecurityGroup', namespace: 'demo', name }, (cur) => {
      cur.status = { ...(cur.status ?? {}), members: addresses.length, addresses };
      return cur;
    }, { status: true });
  }

  /** Creates a VM on `net` and binds it here, with (or without) its address, as the scheduler would. */
  async function createVm(name: string, ip?: string): Promise<StoredObject> {
    const created = await agent.t.store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
      spec: { cpu: 1, memory: '512Mi', networks: [{ name: 'lan', network: 'net', securityGroups: ['ssh'] }] },
    });
    await agent.t.store.guaranteedUpdate(key(name), (cur) => {
      cur.status = {
        ...(cur.status ?? {}), host: HOST, phase: 'Scheduled', conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `bound to ${HOST}` }],
        ...(ip ? { addresses: [addressOf(created, ip)] } : {}),
      };
      return cur;
    }, { status: true });
    return created;
  }

  function addressOf(o: StoredObject, ip: string) {
    return { name: 'lan', network: 'demo/net', ipAddress: ip, prefixLength: 24, gateway: '10.20.0.1', dns: ['10.20.0.1'], mac: macFor(o.metadata.uid!, 0) };
  }

  function readSeed(path: string): Record<string, string> {
    const out = fs.mkdtempSync(join(os.tmpdir(), 'stratus-seed-'));
    try {
      execFileSync('xorriso', ['-osirrox', 'on', '-indev', path, '-extract', '/', out], { stdio: 'ignore' });
      return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(join(out, f), 'utf8')]));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }

  async function domainXml(name: string): Promise<string | undefined> {
    const d = await conn.lookupDomainByName(`demo.${name}`);
    if (!d) return undefined;
    try {
      return await d.getXML();
    } finally {
      d.free();
    }
  }

  /** The backend's last state once `ok` holds for it. */
  function stateWhere(what: string, ok: (s: HostNetworkState) => boolean): Promise<HostNetworkState> {
    return until(what, async () => {
      const s = backend().lastState;
      return s && ok(s) ? s : undefined;
    });
  }

  test('a VM without its address waits (AddressPending); with it, it runs on its tap', async () => {
    const created = await createVm('v1');
    const uid = created.metadata.uid!;
    const pending = await until('AddressPending', async () => {
      const x = await vm('v1');
      return cond(x, 'Ready')?.reason === 'AddressPending' ? x : undefined;
    });
    expect(cond(pending, 'Ready')).toMatchObject({ status: 'False', message: expect.stringContaining('demo/net') });
    expect(await domainXml('v1')).toBeUndefined();

    await agent.t.store.guaranteedUpdate(key('v1'), (cur) => {
      cur.status = { ...(cur.status ?? {}), addresses: [addressOf(created, '10.20.0.5')] };
      return cur;
    }, { status: true });
    await until('Running', async () => ((await vm('v1'))?.status?.phase === 'Running' ? true : undefined));

    const xml = (await domainXml('v1'))!;
    const iface = /<interface type='ethernet'>[\s\S]*?<\/interface>/.exec(xml)?.[0];
    expect(iface).toBeDefined();
    expect(iface).toContain(`<target dev='${tapName(uid, 0)}' managed='no'/>`);
    expect(iface).toContain(`<mac address='${macFor(uid, 0)}'/>`);
    expect(iface).toContain(`<mtu size='1450'/>`);
    expect(xml).not.toContain("<interface type='user'>");

    const files = readSeed(join(agent.dir, 'seeds', HOST, 'demo.v1.iso'));
    expect(parse(files['network-config'])).toEqual({
      version: 2,
      ethernets: { lan: { match: { macaddress: macFor(uid, 0) }, addresses: ['10.20.0.5/24'], gateway4: '10.20.0.1', nameservers: { addresses: ['10.20.0.1'] }, mtu: 1450 } },
    });
  });

  test('the backend was given the bridge, the VXLAN remotes from the other Host, and the VM\'s port', async () => {
    const uid = (await vm('v1'))!.metadata.uid!;
    const names = hostDeviceNames(net.metadata.uid!);
    const s = await stateWhere('the VM\'s port', (x) => x.ports.length === 1);
    expect(s.networks).toEqual([{
      uid: net.metadata.uid, key: 'demo/net', mode: 'overlay', bridge: names.bridge, cidr: '10.20.0.0/24', mtu: 1450,
      vxlan: { device: names.vxlan, vni: derivedVni(net.metadata.uid!), local: UNDERLAY, remotes: ['192.0.2.11'] },
    }]);
    expect(s.ports).toEqual([{
      tap: tapName(uid, 0), bridge: names.bridge, mac: macFor(uid, 0), address: '10.20.0.5',
      ingress: [
        { protocol: 'any', cidrs: ['10.20.0.1/32'] },
        { protocol: 'tcp', ports: { from: 22, to: 22 }, cidrs: ['203.0.113.0/24'] },
        { protocol: 'tcp', ports: { from: 8000, to: 8100 }, cidrs: ['10.20.0.9/32'] },
      ],
      egress: 'all',
    }]);
  });

  test('the Host reports its networking, its underlay address and the networks it built', async () => {
    const st = await until('status.networks', async () => {
      const h = await hostStatus();
      return h?.networks?.length ? h : undefined;
    });
    expect(st.networking).toEqual({ backend: 'none', modes: ['nat', 'overlay'], interfaces: [] });
    expect(st.addresses).toEqual([{ type: 'InternalIP', address: UNDERLAY }]);
    expect(st.networks).toEqual([{ network: 'demo/net', uid: net.metadata.uid, mode: 'overlay', ready: true }]);
  });

  test('live updates: a new member of a referenced group, a host leaving the overlay', async () => {
    await setGroupAddresses('web', ['10.20.0.9', '10.20.0.12']);
    await stateWhere('the group\'s new member', (s) => s.ports[0]?.ingress.some((r) => r.cidrs.includes('10.20.0.12/32')) ?? false);
    await agent.t.store.guaranteedUpdate({ kind: 'Host', namespace: '', name: OTHER }, (cur) => {
      cur.status = { ...(cur.status ?? {}), networks: [] };
      return cur;
    }, { status: true });
    const s = await stateWhere('no remote', (x) => x.networks[0]?.vxlan?.remotes.length === 0);
    expect(s.networks[0].vxlan!.local).toBe(UNDERLAY);
  });

  test('deleting the VM removes its domain, its port and the network from the host', async () => {
    await agent.t.store.delete(key('v1'));
    await until('the VM is gone', async () => ((await vm('v1')) ? undefined : true));
    expect(await domainXml('v1')).toBeUndefined();
    await stateWhere('nothing built', (s) => s.networks.length === 0 && s.ports.length === 0);
    await until('status.networks empty', async () => ((await hostStatus())?.networks?.length === 0 ? true : undefined));
  });
});
