/**
 * Volume objects and their storage, against a real Cassandra node and libvirt's test driver, with
 * two hosts (each its own test-driver hypervisor) in one agent process: a Volume is claimed for
 * one host by compare-and-set before its libvirt volume is created there, reports its status,
 * outlives the VMs that use it, and its storage is deleted only with the Volume, once no VM uses it.
 */
import { join } from 'node:path';
import type { StoredObject } from '../../store';
import type { Condition, VolumeStatus } from '../../schemas/types.gen';
import type { AgentProcess } from '../../agents/agent-process';
import { writeTestHost } from '../../libvirt';
import type { TestStore } from '../helpers/store';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { conditionOf } from '../helpers/fixtures';

const A = 'hv-vol-a';
const B = 'hv-vol-b';
const POOL_DIR = '/var/lib/stratus/pools/default';
let t: TestStore;
let proc: AgentProcess;
let ta: TestAgent;

beforeAll(async () => {
  ta = await startTestAgent({
    name: 'agent_volumes', startSpreadMs: 0,
    hosts: (dir) => Promise.all([A, B].map(async (name) => ({
      name, libvirtUri: await writeTestHost(join(dir, `${name}.xml`), { cpus: 4, memoryKiB: 8 * 1024 * 1024, pools: [{ name: 'default', path: POOL_DIR }] }),
    }))),
  });
  ({ t, proc } = ta);
});

afterAll(() => ta?.stop());

const key = (kind: string, name: string) => ({ kind, namespace: 'demo', name });
const get = (kind: string, name: string) => t.store.get(key(kind, name));
const statusOf = (o: StoredObject | undefined) => (o?.status ?? {}) as VolumeStatus;
const ready = (o: StoredObject | undefined) => conditionOf(o, 'Ready');

async function createVolume(name: string, spec: Record<string, unknown>): Promise<StoredObject> {
  return t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name, namespace: 'demo' }, spec });
}

/** A VM already bound to `host`, whose disk `data` is Volume `volume`. */
async function createVm(name: string, host: string, volume: string): Promise<StoredObject> {
  return t.store.create({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
    spec: { cpu: 1, memory: '512Mi', disks: [{ name: 'data', volume }] }, status: { host, phase: 'Scheduled' },
  });
}

function agent(host: string) {
  return proc.agents.find((a) => a.host === host)!;
}

/** The libvirt volume of Volume `name` on `host`: its XML, or undefined when there is none. */
async function storage(host: string, name: string): Promise<string | undefined> {
  const pool = (await agent(host).conn!.lookupStoragePool('default'))!;
  try {
    const vol = await pool.lookupVolume(`stratus.demo.${name}.vol`);
    if (!vol) return undefined;
    try {
      return await vol.getXML();
    } finally {
      vol.free();
    }
  } finally {
    pool.free();
  }
}

async function volumeWith(name: string, pred: (o: StoredObject) => boolean, what: string): Promise<StoredObject> {
  return until(`Volume ${name}: ${what}`, async () => {
    const o = await get('Volume', name);
    return o && pred(o) ? o : undefined;
  });
}

const vmRunning = (name: string) => until(`${name} Running`, async () => (await get('VirtualMachine', name))?.status?.phase === 'Running');

test('a VM with a Volume disk: the Volume is claimed for its host and reports InUse with host, pool, path, capacity and the VM', async () => {
  await createVolume('data-1', { size: '2Gi' });
  await createVm('vm-1', A, 'data-1');
  await vmRunning('vm-1');
  const vol = await volumeWith('data-1', (o) => statusOf(o).phase === 'InUse', 'InUse');
  expect(vol.status).toMatchObject({
    phase: 'InUse', host: A, pool: 'default', path: `${POOL_DIR}/stratus.demo.data-1.vol`, capacity: '2Gi', usedBy: ['vm-1'], observedGeneration: 1,
  });
  expect(ready(vol)).toMatchObject({ status: 'True', reason: 'InUse', message: expect.stringContaining('VirtualMachine demo/vm-1') });
  expect(vol.metadata.finalizers).toEqual(['stratuslab.eu/agent']);
  expect(await storage(A, 'data-1')).toContain("<capacity unit='bytes'>2147483648</capacity>");
  expect(await storage(B, 'data-1')).toBeUndefined();
  // The VM's disk is the Volume's storage.
  expect((await get('VirtualMachine', 'vm-1'))!.status!.volumes).toEqual([{ name: 'data', path: `${POOL_DIR}/stratus.demo.data-1.vol`, pool: 'default', volume: 'data-1' }]);
});

test('deleting the VM keeps the Volume\'s storage, and the Volume becomes Available', async () => {
  await t.store.delete(key('VirtualMachine', 'vm-1'));
  await until('vm-1 gone', async () => (await get('VirtualMachine', 'vm-1')) === undefined);
  const vol = await volumeWith('data-1', (o) => statusOf(o).phase === 'Available', 'Available');
  expect(vol.status!.usedBy).toBeUndefined();
  expect(ready(vol)).toMatchObject({ status: 'True', reason: 'Available' });
  expect(await storage(A, 'data-1')).toBeDefined();
});

test('deleting a Volume no VM uses deletes its storage, then the object', async () => {
  await t.store.delete(key('Volume', 'data-1'));
  await until('data-1 gone', async () => (await get('Volume', 'data-1')) === undefined);
  expect(await storage(A, 'data-1')).toBeUndefined();
});

test('a Volume deleted while a VM uses it stays Terminating, naming the VM, and goes once the VM is gone', async () => {
  await createVolume('data-2', { size: '1Gi' });
  await createVm('vm-2', A, 'data-2');
  await vmRunning('vm-2');
  await volumeWith('data-2', (o) => statusOf(o).phase === 'InUse', 'InUse');
  const { deleted } = await t.store.delete(key('Volume', 'data-2'));
  expect(deleted).toBe(false);
  const terminating = await volumeWith('data-2', (o) => statusOf(o).phase === 'Terminating', 'Terminating');
  expect(ready(terminating)).toMatchObject({ status: 'False', reason: 'InUse', message: expect.stringContaining('VirtualMachine demo/vm-2') });
  // It stays (the sweep runs every 2 s here), the VM keeps running on it.
  await new Promise((r) => setTimeout(r, 2500));
  expect(statusOf(await get('Volume', 'data-2')).phase).toBe('Terminating');
  expect(await storage(A, 'data-2')).toBeDefined();
  expect((await get('VirtualMachine', 'vm-2'))!.status!.phase).toBe('Running');

  await t.store.delete(key('VirtualMachine', 'vm-2'));
  await until('data-2 gone', async () => (await get('Volume', 'data-2')) === undefined);
  expect(await get('VirtualMachine', 'vm-2')).toBeUndefined();
  expect(await storage(A, 'data-2')).toBeUndefined();
});

test('a Volume that was never materialised has no finalizer and is deleted at once', async () => {
  await createVolume('data-3', { size: '1Gi' });
  await new Promise((r) => setTimeout(r, 500));
  expect((await get('Volume', 'data-3'))!.metadata.finalizers).toBeUndefined();
  const { deleted } = await t.store.delete(key('Volume', 'data-3'));
  expect(deleted).toBe(true);
  expect(await get('Volume', 'data-3')).toBeUndefined();
});

test('a Volume pinned to a host is created there at once, cloned copy-on-write from its Image', async () => {
  await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'base', namespace: 'demo' }, spec: { source: { path: '/images/base.qcow2' }, size: '3Gi' } });
  await createVolume('data-4', { image: 'base', host: B });
  const vol = await volumeWith('data-4', (o) => statusOf(o).phase === 'Available', 'Available');
  expect(vol.status).toMatchObject({ host: B, pool: 'default', path: `${POOL_DIR}/stratus.demo.data-4.vol`, capacity: '3Gi' });
  const xml = await storage(B, 'data-4');
  expect(xml).toContain('<path>/images/base.qcow2</path>');
  expect(await storage(A, 'data-4')).toBeUndefined();
});

test('VMs on two hosts racing for one Volume: one host gets it, the other VM reports VolumeOnOtherHost and creates nothing', async () => {
  await createVolume('data-5', { size: '1Gi' });
  await Promise.all([createVm('race-a', A, 'data-5'), createVm('race-b', B, 'data-5')]);
  const vol = await volumeWith('data-5', (o) => statusOf(o).phase === 'InUse', 'InUse');
  const winner = statusOf(vol).host!;
  const [won, lost] = winner === A ? ['race-a', 'race-b'] : ['race-b', 'race-a'];
  const loser = winner === A ? B : A;
  await vmRunning(won);
  const refused = await until(`${lost} refused`, async () => {
    const o = await get('VirtualMachine', lost);
    return ready(o)?.reason === 'VolumeOnOtherHost' ? o : undefined;
  });
  expect(ready(refused)!.message).toContain(`is on host ${winner}`);
  expect(await storage(winner, 'data-5')).toBeDefined();
  expect(await storage(loser, 'data-5')).toBeUndefined();
  expect(await agent(loser).conn!.lookupDomainByName(`demo.${lost}`)).toBeUndefined();
  expect(statusOf(vol).usedBy).toEqual([won]);
});
