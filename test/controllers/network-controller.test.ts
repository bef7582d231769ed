// The network controller on a real Cassandra node: a Network's status (addresses total, used and
// free from its AddressClaims, gateway, VNI, Ready with InvalidSpec or Exhausted, members of a
// shared network), the in-use finalizer (a Network being deleted waits with Ready=False/InUse
// naming its VMs, and goes once they are deleted), and SecurityGroup status (members, addresses).
import { API_VERSION, conditionOf, hostObject, vmKey, vmObject } from '../helpers/fixtures';
import { placementSuite, removeAll } from '../helpers/placement';
import type { RunningReplicas } from '../helpers/replicas';
import { until } from '../helpers/wait';
import { derivedVni, NETWORK_FINALIZER } from '../../kube/networks';
import type { NetworkObject, SecurityGroupObject, StoredObject, VirtualMachineObject } from '../../store';

jest.setTimeout(90_000);

const suite = placementSuite('netctl');
let running: RunningReplicas | undefined;
const cond = conditionOf;
const TIMEOUT_MS = 30_000;

function netHost(name: string): StoredObject {
  const h = hostObject(name, { cpu: 64, memory: '256Gi' });
  (h.status as Record<string, unknown>).networking = { backend: 'none', modes: ['nat', 'overlay', 'bridge'], interfaces: ['eth1'] };
  return h;
}
const network = (ns: string, name: string, spec: Record<string, unknown>): StoredObject => ({ apiVersion: API_VERSION, kind: 'Network', metadata: { namespace: ns, name }, spec });
function netVm(ns: string, name: string, ifaces: Array<{ name: string; network: string; securityGroups?: string[] }>): StoredObject {
  const v = vmObject(ns, name, { cpu: 1, memory: '256Mi' });
  (v.spec as Record<string, unknown>).networks = ifaces;
  return v;
}
const netKey = (ns: string, name: string) => ({ kind: 'Network', namespace: ns, name });
const getNet = (ns: string, name: string) => suite.store.get<NetworkObject>(netKey(ns, name));
const bound = (ns: string, name: string) => until(`${ns}/${name} bound`, async () => {
  const v = await suite.store.get<VirtualMachineObject>(vmKey(ns, name));
  return v?.status?.host ? v : undefined;
}, TIMEOUT_MS);
/** Waits until the Network's status satisfies `ok`; shows the last status on timeout. */
async function netStatus(ns: string, name: string, what: string, ok: (n: NetworkObject) => boolean): Promise<NetworkObject> {
  let last: NetworkObject | undefined;
  return until(`network ${ns}/${name}: ${what}`, async () => {
    last = await getNet(ns, name);
    return last && ok(last) ? last : undefined;
  }, { timeoutMs: TIMEOUT_MS, context: () => `last seen: ${JSON.stringify(last?.status)}` });
}

/** Deletes an object, retrying while a controller's status write races the delete (as API clients do). */
async function deleteRetrying(key: { kind: string; namespace: string; name: string }) {
  return until(`${key.kind} ${key.namespace}/${key.name} deleted`, () => suite.store.delete(key), TIMEOUT_MS);
}

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await removeAll(suite.store, ['VirtualMachine', 'AddressClaim', 'SecurityGroup']);
  for (const n of (await suite.store.list<NetworkObject>('Network', undefined, { limit: 1000 })).items) {
    const key = netKey(n.metadata.namespace ?? '', n.metadata.name);
    await suite.store.guaranteedUpdate(key, (cur) => { cur.metadata.finalizers = []; return cur; }).catch(() => undefined);
    await suite.store.delete(key).catch(() => undefined);
  }
});

test('a Network shows its addresses total, used and free, its gateway and VNI, and Ready with a reason', async () => {
  await suite.store.create(netHost('hv-0'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  const lan = await suite.store.create(network('st', 'lan', { cidr: '10.1.0.0/28', reserved: ['10.1.0.10-10.1.0.11'] }));
  // 16 addresses - network, broadcast, gateway 10.1.0.1 and 2 reserved = 11
  let n = await netStatus('st', 'lan', 'Ready with 11 free', (x) => x.status?.addresses?.free === 11);
  expect(n.status).toMatchObject({ observedGeneration: 1, addresses: { total: 11, used: 0, free: 11 }, gateway: '10.1.0.1' });
  expect(n.status!.vni).toBeUndefined();
  expect(cond(n, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
  // the controller holds the in-use finalizer (the API adds it on create; objects written otherwise get it here)
  expect(n.metadata.finalizers).toEqual([NETWORK_FINALIZER]);

  await suite.store.create(netVm('st', 'a', [{ name: 'eth0', network: 'lan' }]));
  await suite.store.create(netVm('st', 'b', [{ name: 'eth0', network: 'lan' }]));
  await bound('st', 'a');
  await bound('st', 'b');
  n = await netStatus('st', 'lan', '2 used', (x) => x.status?.addresses?.used === 2);
  expect(n.status!.addresses).toEqual({ total: 11, used: 2, free: 9 });
  expect(n.status!.members).toBeUndefined(); // not shared

  // overlay: the VNI derived from the uid, or the spec's
  const ov = await suite.store.create(network('st', 'ov', { cidr: '10.2.0.0/24', mode: 'overlay' }));
  n = await netStatus('st', 'ov', 'a VNI', (x) => x.status?.vni !== undefined);
  expect(n.status!.vni).toBe(derivedVni(ov.metadata.uid!));
  expect(n.status!.gateway).toBeUndefined(); // only nat has a default gateway
  await suite.store.create(network('st', 'ov2', { cidr: '10.3.0.0/24', mode: 'overlay', vni: 4242 }));
  expect((await netStatus('st', 'ov2', 'a VNI', (x) => x.status?.vni !== undefined)).status!.vni).toBe(4242);

  // an invalid spec (the API refuses it; written straight to the store here)
  await suite.store.create(network('st', 'bad', { cidr: '10.4.0.0/24', gateway: '10.5.0.1' }));
  n = await netStatus('st', 'bad', 'Ready=False', (x) => cond(x, 'Ready')?.status === 'False');
  expect(cond(n, 'Ready')).toMatchObject({ reason: 'InvalidSpec', message: 'spec.gateway 10.5.0.1 is not a usable address of 10.4.0.0/24' });

  // exhausted: a /30 has one address besides its gateway
  await suite.store.create(network('st', 'tiny', { cidr: '10.6.0.0/30' }));
  await suite.store.create(netVm('st', 'only', [{ name: 'eth0', network: 'tiny' }]));
  await bound('st', 'only');
  n = await netStatus('st', 'tiny', 'Exhausted', (x) => cond(x, 'Ready')?.reason === 'Exhausted');
  expect(cond(n, 'Ready')).toMatchObject({ status: 'True', message: 'no free address' });
  expect(n.status!.addresses).toEqual({ total: 1, used: 1, free: 0 });
  // a spec change is observed
  await suite.store.guaranteedUpdate(netKey('st', 'lan'), (cur) => { (cur.spec as Record<string, unknown>).reserved = []; return cur; });
  n = await netStatus('st', 'lan', 'generation 2 observed', (x) => x.status?.observedGeneration === 2);
  expect(n.status!.addresses).toEqual({ total: 13, used: 2, free: 11 });
  expect(lan.metadata.uid).toBe(n.metadata.uid);
});

test('a Network in use being deleted keeps its finalizer with Ready=False/InUse naming the VMs, and goes once they are deleted', async () => {
  await suite.store.create(netHost('hv-0'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(network('del', 'lan', { cidr: '10.7.0.0/24' }));
  await netStatus('del', 'lan', 'the finalizer', (x) => (x.metadata.finalizers ?? []).includes(NETWORK_FINALIZER));
  await suite.store.create(netVm('del', 'a', [{ name: 'eth0', network: 'lan' }]));
  await suite.store.create(netVm('del', 'b', [{ name: 'eth0', network: 'lan' }]));
  await bound('del', 'a');
  await bound('del', 'b');
  const r = await deleteRetrying(netKey('del', 'lan'));
  expect(r.deleted).toBe(false);
  const n = await netStatus('del', 'lan', 'InUse', (x) => cond(x, 'Ready')?.reason === 'InUse');
  expect(cond(n, 'Ready')).toMatchObject({ status: 'False', message: 'used by 2 VMs: del/a, del/b' });
  expect(n.metadata.deletionTimestamp).toBeDefined();
  expect(n.metadata.finalizers).toEqual([NETWORK_FINALIZER]);

  await deleteRetrying(vmKey('del', 'a'));
  await netStatus('del', 'lan', 'used by 1 VM', (x) => cond(x, 'Ready')?.message === 'used by 1 VM: del/b');
  await deleteRetrying(vmKey('del', 'b'));
  await until('the network gone once no VM and no claim uses it', async () => (await getNet('del', 'lan')) === undefined, TIMEOUT_MS);
  expect((await suite.store.list('AddressClaim', 'del')).items).toEqual([]);
});

test('a shared Network lists the addresses of each project\'s VMs; a SecurityGroup counts its member interfaces and their addresses', async () => {
  await suite.store.create(netHost('hv-0'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(network('infra', 'shared', { cidr: '10.8.0.0/24', shared: true }));
  await suite.store.create({ apiVersion: API_VERSION, kind: 'SecurityGroup', metadata: { namespace: 'pa', name: 'web' }, spec: { ingress: [{ protocol: 'tcp', ports: '80', cidr: '0.0.0.0/0' }] } });
  await suite.store.create({ apiVersion: API_VERSION, kind: 'SecurityGroup', metadata: { namespace: 'pa', name: 'db' }, spec: { ingress: [{ protocol: 'tcp', ports: '5432', securityGroup: 'app' }] } });
  await suite.store.create(netVm('pa', 'w1', [{ name: 'eth0', network: 'infra/shared', securityGroups: ['web'] }]));
  await suite.store.create(netVm('pa', 'w2', [{ name: 'eth0', network: 'infra/shared', securityGroups: ['web'] }, { name: 'eth1', network: 'infra/shared', securityGroups: ['web'] }]));
  await suite.store.create(netVm('pb', 'x', [{ name: 'eth0', network: 'infra/shared' }]));
  const w1 = await bound('pa', 'w1');
  const w2 = await bound('pa', 'w2');
  const x = await bound('pb', 'x');
  const ips = (v: VirtualMachineObject) => v.status!.addresses!.map((a) => a.ipAddress);
  const byNum = (a: string, b: string) => Number(a.split('.')[3]) - Number(b.split('.')[3]);
  const n = await netStatus('infra', 'shared', 'members of 2 projects', (s) => s.status?.members?.length === 2 && s.status.members[0].addresses.length === 3);
  expect(n.status!.members).toEqual([
    { project: 'pa', addresses: [...ips(w1), ...ips(w2)].sort(byNum) },
    { project: 'pb', addresses: ips(x) },
  ]);
  expect(n.status!.addresses!.used).toBe(4);

  let web: SecurityGroupObject | undefined;
  await until('SecurityGroup web: 3 members', async () => { web = await suite.store.get<SecurityGroupObject>({ kind: 'SecurityGroup', namespace: 'pa', name: 'web' }); return web?.status?.members === 3 && web.status.addresses?.length === 3; }, TIMEOUT_MS);
  expect(web!.status).toMatchObject({ observedGeneration: 1, members: 3, addresses: [...ips(w1), ...ips(w2)].sort(byNum) });
  expect(cond(web, 'Ready')).toMatchObject({ status: 'True' });
  // a rule naming a group that does not exist says so, and clears once it does
  let db: SecurityGroupObject | undefined;
  await until('SecurityGroup db: Ready=False', async () => { db = await suite.store.get<SecurityGroupObject>({ kind: 'SecurityGroup', namespace: 'pa', name: 'db' }); return cond(db, 'Ready')?.status === 'False'; }, TIMEOUT_MS);
  expect(cond(db, 'Ready')).toMatchObject({ reason: 'UnknownSecurityGroup', message: 'ingress[0] names security group app, which does not exist (its peers are none until it does)' });
  expect(db!.status).toMatchObject({ members: 0, addresses: [] });
  await suite.store.create({ apiVersion: API_VERSION, kind: 'SecurityGroup', metadata: { namespace: 'pa', name: 'app' }, spec: {} });
  await until('SecurityGroup db: Ready=True', async () => cond(await suite.store.get({ kind: 'SecurityGroup', namespace: 'pa', name: 'db' }), 'Ready')?.status === 'True', TIMEOUT_MS);

  // members follow the VMs
  await deleteRetrying(vmKey('pa', 'w2'));
  await until('SecurityGroup web: 1 member', async () => (await suite.store.get<SecurityGroupObject>({ kind: 'SecurityGroup', namespace: 'pa', name: 'web' }))?.status?.members === 1, TIMEOUT_MS);
  await netStatus('infra', 'shared', 'pa has one address left', (s) => s.status?.members?.[0].addresses.length === 1);
});
