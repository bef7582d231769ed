// Address claims on a real Cassandra node: three scheduler replicas racing to place 100 VMs on a
// /26 network hand out its 61 usable addresses once each (AddressClaim rows, one per address) and
// leave the rest Pending with NoAddressAvailable until deletions free addresses; fixed addresses
// (AddressInUse, InvalidAddress), a missing network (NetworkNotFound), hosts that cannot build the
// network's mode, the audit of orphan claims, and the address kept across a reschedule.
import pino from 'pino';
import { Registry } from 'prom-client';
import { AddressClaimAudit } from '../../controllers/address-claim-audit';
import { PlacementMetrics } from '../../controllers/metrics';
import { changeBoundVm } from '../../controllers/unbind';
import { API_VERSION, conditionOf, hostObject, pool, vmKey, vmObject } from '../helpers/fixtures';
import { placementSuite, removeAll } from '../helpers/placement';
import type { RunningReplicas } from '../helpers/replicas';
import { until } from '../helpers/wait';
import { ipv4ToNumber, macFor, NETWORK_FINALIZER } from '../../kube/networks';
import type { AddressClaimObject, NetworkObject, StoredObject, VirtualMachineObject } from '../../store';

jest.setTimeout(120_000);

const suite = placementSuite('ipam');
let running: RunningReplicas | undefined;
const cond = conditionOf;
const TIMEOUT_MS = 30_000;

/** A Host whose agent can build networks of `modes` (what a hollow host reports). */
function netHost(name: string, modes: string[] = ['nat', 'overlay'], interfaces: string[] = []): StoredObject {
  const h = hostObject(name, { cpu: 64, memory: '256Gi' });
  (h.status as Record<string, unknown>).networking = { backend: 'none', modes, interfaces };
  return h;
}

function network(ns: string, name: string, spec: Record<string, unknown>): StoredObject {
  return { apiVersion: API_VERSION, kind: 'Network', metadata: { namespace: ns, name }, spec };
}

function netVm(ns: string, name: string, ifaces: Array<{ name: string; network?: string; ipAddress?: string }>): StoredObject {
  const v = vmObject(ns, name, { cpu: 1, memory: '256Mi' });
  (v.spec as Record<string, unknown>).networks = ifaces;
  return v;
}

const getVm = async (ns: string, name: string) => (await suite.store.get<VirtualMachineObject>(vmKey(ns, name)))!;
const listAll = async <T extends StoredObject>(kind: string, ns?: string) => {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await suite.store.list<T>(kind, ns, { limit: 1000, continue: cont });
    out.push(...page.items);
    cont = page.continue;
  } while (cont);
  return out;
};
const claimsOf = (ns: string) => listAll<AddressClaimObject>('AddressClaim', ns);
const boundVm = (ns: string, name: string) => until(`${ns}/${name} bound`, async () => { const v = await getVm(ns, name); return v.status?.host ? v : undefined; }, TIMEOUT_MS);
const scheduledReason = async (ns: string, name: string, reason: string) => {
  let last: VirtualMachineObject | undefined;
  return until(`${ns}/${name} Scheduled=False ${reason}`, async () => {
    const v = (last = await getVm(ns, name));
    const c = cond(v, 'Scheduled');
    return c?.status === 'False' && c.reason === reason ? v : undefined;
  }, { timeoutMs: TIMEOUT_MS, context: () => `last seen: ${JSON.stringify(last?.status)}` });
};

/** Deletes an object, retrying while a controller's status write races the delete (as API clients do). */
async function deleteRetrying(key: { kind: string; namespace: string; name: string }) {
  return until(`${key.kind} ${key.namespace}/${key.name} deleted`, () => suite.store.delete(key), TIMEOUT_MS);
}

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await removeAll(suite.store, ['VirtualMachine', 'AddressClaim']);
  for (const n of await listAll<NetworkObject>('Network')) {
    const key = { kind: 'Network', namespace: n.metadata.namespace ?? '', name: n.metadata.name };
    await suite.store.guaranteedUpdate(key, (cur) => { cur.metadata.finalizers = []; return cur; }).catch(() => undefined);
    await suite.store.delete(key).catch(() => undefined);
  }
});

test('three replicas placing 100 VMs on a /26 at once hand out its 61 addresses once each; the rest wait with NoAddressAvailable until addresses are freed', async () => {
  for (let i = 0; i < 4; i++) await suite.store.create(netHost(`hv-${i}`));
  await suite.store.create(network('ipam', 'lan', { cidr: '10.30.0.0/26', dns: ['10.30.0.1'] }));
  running = await suite.start(3, { enable: { audit: false, hostHealth: false } });
  const names = Array.from({ length: 100 }, (_, i) => `vm-${i}`);
  await pool(names, 25, (n) => suite.store.create(netVm('ipam', n, [{ name: 'eth0', network: 'lan' }])));

  const settled = async () => {
    const vms = await listAll<VirtualMachineObject>('VirtualMachine', 'ipam');
    return {
      bound: vms.filter((v) => v.status?.host),
      waiting: vms.filter((v) => !v.status?.host && cond(v, 'Scheduled')?.reason === 'NoAddressAvailable'),
      claims: await claimsOf('ipam'),
    };
  };
  let s = await until('61 VMs bound, 39 waiting with NoAddressAvailable, 61 claims', async () => {
    const x = await settled();
    return x.bound.length === 61 && x.waiting.length === 39 && x.claims.length === 61 ? x : undefined;
  }, 90_000);
  // and it stays so (no late bind with a duplicate address)
  await new Promise((r) => setTimeout(r, 1500));
  s = await settled();
  expect(s.bound).toHaveLength(61);
  expect(s.claims).toHaveLength(61);

  // 61 distinct usable addresses (not the network, broadcast or gateway 10.30.0.1), each the
  // address of one bound VM, which its status.addresses shows with the MAC, prefix, gateway and DNS
  // the replicas really raced: claims were made by more than one
  expect(new Set(s.claims.map((c) => c.spec.by.split('/')[0])).size).toBeGreaterThan(1);
  const addresses = s.claims.map((c) => c.spec.address);
  expect(new Set(addresses).size).toBe(61);
  for (const a of addresses) {
    const n = ipv4ToNumber(a)!;
    expect(n).toBeGreaterThan(ipv4ToNumber('10.30.0.1')!);
    expect(n).toBeLessThan(ipv4ToNumber('10.30.0.63')!);
  }
  const byUid = new Map(s.bound.map((v) => [v.metadata.uid!, v]));
  for (const c of s.claims) {
    const v = byUid.get(c.spec.uid);
    expect(v).toBeDefined();
    expect(c.metadata.name).toBe(`lan.${c.spec.address}`);
    expect(c.spec).toMatchObject({ network: 'lan', vm: `ipam/${v!.metadata.name}`, interface: 'eth0' });
    expect(v!.status!.addresses).toEqual([{
      name: 'eth0', network: 'ipam/lan', ipAddress: c.spec.address, prefixLength: 26, gateway: '10.30.0.1', dns: ['10.30.0.1'],
      mac: macFor(v!.metadata.uid!, 0),
    }]);
  }
  const w = cond(s.waiting[0], 'Scheduled')!;
  expect(w.message).toBe('interface eth0: network lan: no address available (61 usable, all claimed)');
  expect(s.waiting[0].status!.phase).toBe('Pending');
  // the Network's status counts them
  await until('Network lan shows 61 used, 0 free, Exhausted', async () => {
    const n = await suite.store.get<NetworkObject>({ kind: 'Network', namespace: 'ipam', name: 'lan' });
    const r = cond(n, 'Ready');
    return n?.status?.addresses?.used === 61 && n.status.addresses.free === 0 && r?.reason === 'Exhausted';
  }, TIMEOUT_MS);

  // Deleting 10 bound VMs releases their claims, and 10 waiting VMs get their addresses.
  const gone = s.bound.slice(0, 10);
  const freed = new Set(gone.map((v) => v.status!.addresses![0].ipAddress));
  await Promise.all(gone.map((v) => deleteRetrying(vmKey('ipam', v.metadata.name))));
  const after = await until('71 bound VMs minus 10 deleted = 61 bound again, 29 waiting', async () => {
    const x = await settled();
    return x.bound.length === 61 && x.waiting.length === 29 && x.claims.length === 61 ? x : undefined;
  }, 60_000);
  const goneUids = new Set(gone.map((v) => v.metadata.uid));
  expect(after.claims.filter((c) => goneUids.has(c.spec.uid))).toEqual([]);
  const newcomers = after.bound.filter((v) => !byUid.has(v.metadata.uid!));
  expect(newcomers).toHaveLength(10);
  expect(new Set(newcomers.map((v) => v.status!.addresses![0].ipAddress))).toEqual(freed);
  expect(new Set(after.claims.map((c) => c.spec.address)).size).toBe(61);
  expect(await running.counter('stratus_ipam_claims_total', { outcome: 'NoAddressAvailable' })).toBeGreaterThan(0);
});

test('a fixed address is honoured; a second VM asking for it waits with AddressInUse naming the holder; one outside the range is InvalidAddress', async () => {
  await suite.store.create(netHost('hv-0'));
  await suite.store.create(network('fix', 'lan', { cidr: '10.40.0.0/24', reserved: ['10.40.0.200-10.40.0.254'] }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('fix', 'a', [{ name: 'eth0', network: 'lan', ipAddress: '10.40.0.10' }]));
  const a = await boundVm('fix', 'a');
  expect(a.status!.addresses![0]).toMatchObject({ ipAddress: '10.40.0.10', prefixLength: 24, gateway: '10.40.0.1' });
  expect((await suite.store.get<AddressClaimObject>({ kind: 'AddressClaim', namespace: 'fix', name: 'lan.10.40.0.10' }))!.spec.uid).toBe(a.metadata.uid);

  await suite.store.create(netVm('fix', 'b', [{ name: 'eth0', network: 'lan', ipAddress: '10.40.0.10' }]));
  const b = await scheduledReason('fix', 'b', 'AddressInUse');
  expect(cond(b, 'Scheduled')!.message).toBe('interface eth0: network lan: 10.40.0.10 is held by fix/a');
  expect(b.status!.phase).toBe('Pending');

  for (const [name, ip] of [['outside', '10.99.0.5'], ['reserved', '10.40.0.210'], ['gateway', '10.40.0.1']]) {
    await suite.store.create(netVm('fix', name, [{ name: 'eth0', network: 'lan', ipAddress: ip }]));
    const v = await scheduledReason('fix', name, 'InvalidAddress');
    expect(cond(v, 'Scheduled')!.message).toBe(`interface eth0: network lan: ${ip} is not an address it hands out (10.40.0.0/24 without its network, broadcast, gateway and reserved addresses)`);
  }
  // when a goes, b gets the address
  await deleteRetrying(vmKey('fix', 'a'));
  expect((await boundVm('fix', 'b')).status!.addresses![0].ipAddress).toBe('10.40.0.10');
});

test('a VM on a network that does not exist waits with NetworkNotFound and is bound once the network is created; a VM of another project may attach only a shared one', async () => {
  await suite.store.create(netHost('hv-0'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('nf', 'v', [{ name: 'eth0', network: 'later' }, { name: 'default' }]));
  const v = await scheduledReason('nf', 'v', 'NetworkNotFound');
  expect(cond(v, 'Scheduled')!.message).toBe('interface eth0: network later not found');
  await suite.store.create(network('nf', 'later', { cidr: '10.50.0.0/29' }));
  const bound = await boundVm('nf', 'v');
  expect(bound.status!.addresses).toHaveLength(1);
  expect(bound.status!.addresses![0]).toMatchObject({ name: 'eth0', network: 'nf/later', prefixLength: 29, mac: macFor(bound.metadata.uid!, 0) });

  // another project: not shared → NetworkNotFound; shared → bound, the claim in the network's project
  await suite.store.create(netVm('other', 'w', [{ name: 'eth0', network: 'nf/later' }]));
  expect(cond(await scheduledReason('other', 'w', 'NetworkNotFound'), 'Scheduled')!.message).toBe('interface eth0: network nf/later is not shared with project other');
  await suite.store.guaranteedUpdate({ kind: 'Network', namespace: 'nf', name: 'later' }, (cur) => { (cur.spec as Record<string, unknown>).shared = true; return cur; });
  const w = await boundVm('other', 'w');
  const claim = (await claimsOf('nf')).find((c) => c.spec.uid === w.metadata.uid);
  expect(claim?.spec).toMatchObject({ vm: 'other/w', network: 'later', address: w.status!.addresses![0].ipAddress });
});

test('only hosts that can build the network\'s mode take the VM; the message counts the others', async () => {
  await suite.store.create(netHost('nat-only', ['nat']));
  await suite.store.create(hostObject('no-networking'));
  await suite.store.create(netHost('bridge-eth1', ['nat', 'bridge'], ['eth1']));
  await suite.store.create(network('modes', 'ov', { cidr: '10.60.0.0/24', mode: 'overlay' }));
  await suite.store.create(network('modes', 'br', { cidr: '10.61.0.0/24', mode: 'bridge', bridge: { interface: 'eth1' } }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('modes', 'o', [{ name: 'eth0', network: 'ov' }]));
  const o = await scheduledReason('modes', 'o', 'Unschedulable');
  expect(cond(o, 'Scheduled')!.message).toBe('0/3 hosts fit: 3 cannot attach network ov (mode overlay)');
  // no address is held by a VM no host can take
  expect((await claimsOf('modes')).filter((c) => c.spec.uid === o.metadata.uid)).toEqual([]);
  await suite.store.create(netVm('modes', 'b', [{ name: 'eth0', network: 'br' }]));
  expect((await boundVm('modes', 'b')).status!.host).toBe('bridge-eth1');
  // a host that learns overlay takes the waiting VM
  await suite.store.guaranteedUpdate({ kind: 'Host', namespace: '', name: 'nat-only' }, (cur) => {
    (cur.status as Record<string, unknown>).networking = { backend: 'none', modes: ['nat', 'overlay'] };
    return cur;
  }, { status: true });
  expect((await boundVm('modes', 'o')).status!.host).toBe('nat-only');
});

test('the audit deletes claims whose VM is gone or replaced, or whose network was re-created, and keeps the live ones', async () => {
  await suite.store.create(netHost('hv-0'));
  const net = await suite.store.create(network('aud', 'lan', { cidr: '10.70.0.0/24' }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('aud', 'live', [{ name: 'eth0', network: 'lan' }]));
  const live = await boundVm('aud', 'live');
  // from here the audit alone (no release controller, which would free the orphans at once)
  await running.stop();
  running = await suite.start(1, { enable: { audit: false, hostHealth: false, addressRelease: false, scheduler: false } });
  const old = Date.now() - 600_000;
  const orphan = (name: string, spec: Record<string, unknown>) => suite.store.create({
    apiVersion: API_VERSION, kind: 'AddressClaim', metadata: { namespace: 'aud', name },
    spec: { network: 'lan', networkUID: net.metadata.uid, interface: 'eth0', by: 'crashed/1', at: old, ...spec },
  });
  await orphan('lan.10.70.0.100', { address: '10.70.0.100', uid: 'dead-uid', vm: 'aud/ghost' });
  await orphan('lan.10.70.0.101', { address: '10.70.0.101', uid: 'older-uid', vm: 'aud/live' });
  await orphan('lan.10.70.0.102', { address: '10.70.0.102', uid: live.metadata.uid, vm: 'aud/live', networkUID: 'deleted-network-uid' });
  // a young orphan is left alone (a placement in flight)
  await orphan('lan.10.70.0.103', { address: '10.70.0.103', uid: 'young-uid', vm: 'aud/young', at: Date.now() });

  const r = running.replicas[0];
  const audit = new AddressClaimAudit({ store: suite.store, informers: r.informers, logger: pino({ level: 'silent' }), metrics: new PlacementMetrics(new Registry()), graceMs: 60_000 });
  expect(await audit.runOnce()).toMatchObject({ claims: 5, vmGone: 2, networkGone: 1, unlisted: 0 });
  expect((await claimsOf('aud')).map((c) => c.spec.address).sort()).toEqual([live.status!.addresses![0].ipAddress, '10.70.0.103'].sort());
});

test('a VM placed again keeps its address (claims survive the reschedule); the release controller frees a deleted VM\'s claim', async () => {
  for (let i = 0; i < 3; i++) await suite.store.create(netHost(`hv-${i}`));
  await suite.store.create(network('rs', 'lan', { cidr: '10.80.0.0/16' }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('rs', 'v', [{ name: 'eth0', network: 'lan' }, { name: 'eth1', network: 'lan' }]));
  const first = await boundVm('rs', 'v');
  const addrs = first.status!.addresses!;
  expect(addrs.map((a) => a.name)).toEqual(['eth0', 'eth1']);
  expect(addrs[0].ipAddress).not.toBe(addrs[1].ipAddress);
  expect(addrs.map((a) => a.mac)).toEqual([macFor(first.metadata.uid!, 0), macFor(first.metadata.uid!, 1)]);

  // taken off its host (as host health or a drain does) and placed again
  const out = await changeBoundVm({ store: suite.store, cache: running.replicas[0].cache }, first, first.status!.host!, () => 'unbind');
  expect(out.outcome).toBe('unbound');
  const again = await until('rs/v bound again', async () => {
    const v = await getVm('rs', 'v');
    return v.status?.host && cond(v, 'Scheduled')?.status === 'True' ? v : undefined;
  }, TIMEOUT_MS);
  expect(again.status!.addresses).toEqual(addrs);
  expect((await claimsOf('rs')).map((c) => c.spec.address).sort()).toEqual(addrs.map((a) => a.ipAddress).sort());

  await deleteRetrying(vmKey('rs', 'v'));
  await until('the deleted VM\'s claims released', async () => (await claimsOf('rs')).length === 0, TIMEOUT_MS);
  expect(await running.counter('stratus_ipam_releases_total', { reason: 'vm-deleted' })).toBe(2);
});

test('a VM asking for a network being deleted waits with NetworkNotReady', async () => {
  await suite.store.create(netHost('hv-0'));
  await suite.store.create({ ...network('del', 'lan', { cidr: '10.90.0.0/24' }), metadata: { namespace: 'del', name: 'lan', finalizers: [NETWORK_FINALIZER] } });
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(netVm('del', 'user', [{ name: 'eth0', network: 'lan' }]));
  await boundVm('del', 'user');
  await deleteRetrying({ kind: 'Network', namespace: 'del', name: 'lan' });
  // the replica has seen the deletion once its network controller says why it waits
  await until('network del/lan InUse', async () => cond(await suite.store.get({ kind: 'Network', namespace: 'del', name: 'lan' }), 'Ready')?.reason === 'InUse', TIMEOUT_MS);
  await suite.store.create(netVm('del', 'late', [{ name: 'eth0', network: 'lan' }]));
  const late = await scheduledReason('del', 'late', 'NetworkNotReady');
  expect(cond(late, 'Scheduled')!.message).toBe('interface eth0: network lan is being deleted');
  // still there: a VM uses it
  expect((await suite.store.get<NetworkObject>({ kind: 'Network', namespace: 'del', name: 'lan' }))?.metadata.finalizers).toEqual([NETWORK_FINALIZER]);
});
