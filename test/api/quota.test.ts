// Quotas: admission by compare-and-set on the project's ledger, across two frontends, released on
// deletion (also when an agent removes the last finalizer), adjusted on resize, and repaired from
// the objects after a crash.
import request from 'supertest';
import { QuotaReconciler } from '../../api/quota/reconciler';
import { LeaseRepository } from '../../store/leases';
import { amountsOf, ZERO, add } from '../../api/quota/amounts';
import { openSiblingApi, openTestApi, API, type SiblingApi, type TestApi } from '../helpers/api';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';
import { systemClock } from '../../runtime';

let api: TestApi;
let second: SiblingApi;
const V = 'stratuslab.eu/v1alpha1';
const GiB = 2 ** 30;

const vm = (name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
  ({ apiVersion: V, kind: 'VirtualMachine', metadata: { name, ...meta }, spec: { cpu: 1, memory: '1Gi', ...spec } });
const volume = (name: string, size: string) => ({ apiVersion: V, kind: 'Volume', metadata: { name }, spec: { size } });
const project = (name: string, quota?: Record<string, unknown>) => ({ apiVersion: V, kind: 'Project', metadata: { name }, spec: quota ? { quota } : {} });
const merge = (r: ReturnType<typeof request.agent>, path: string, body: object) => r.patch(path).set('Content-Type', 'application/merge-patch+json').send(body);

/** Waits for the settles in flight on both frontends, then returns the ledger's totals. */
async function totals(p: string) {
  await api.security.ledger.idle();
  await second.security.ledger.idle();
  return api.security.ledger.totals(p);
}

/** What the objects of a project ask for, computed from the objects themselves. */
async function fromObjects(p: string) {
  let sum = { ...ZERO };
  for (const kind of ['VirtualMachine', 'Volume']) {
    for (const o of (await api.store.list(kind, p, { limit: 1000 })).items) sum = add(sum, amountsOf(o));
  }
  return sum;
}

beforeAll(async () => {
  api = await openTestApi('quota');
  second = await openSiblingApi(api);
}, 60000);
afterAll(async () => {
  await second.close();
  await api.close();
});

test('100 concurrent creates against a quota of 10 VMs, through two frontends, create exactly 10', async () => {
  await api.req.post(`${API}/projects`).send(project('race', { vms: 10 })).expect(201);
  const NS = `${API}/namespaces/race/virtualmachines`;
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? api.req : second.req).post(NS).send(vm(`r-${i}`))));
  const codes = results.map((r) => r.status);
  expect(codes.filter((c) => c === 201)).toHaveLength(10);
  expect(codes.filter((c) => c === 403)).toHaveLength(90);
  const refused = results.find((r) => r.status === 403)!;
  expect(refused.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
  expect(refused.body.message).toMatch(/^virtualmachines\.stratuslab\.eu "r-\d+" is forbidden: exceeded quota: race, requested: vms=1, used: vms=10, limited: vms=10$/);
  expect((await api.req.get(NS).expect(200)).body.items).toHaveLength(10);
  expect((await totals('race')).vms).toBe(10);
  // The Project shows usage against quota.
  await api.security.usage.flush();
  await second.security.usage.flush();
  const p = (await api.req.get(`${API}/projects/race`).expect(200)).body;
  expect(p.status.usage).toMatchObject({ vms: 10, cpu: 10, memory: '10Gi' });
  expect(p.spec.quota.vms).toBe(10);
  process.stderr.write(`quota race: 100 concurrent creates in ${Date.now() - started} ms\n`);
}, 60000);

describe('cpu, memory and storage', () => {
  const NS = `${API}/namespaces/sized`;
  beforeAll(async () => {
    await api.req.post(`${API}/projects`).send(project('sized', { cpu: 4, memory: '4Gi', storage: '25Gi' })).expect(201);
  });

  test('every dimension is enforced, and a refusal says which', async () => {
    await api.req.post(`${NS}/virtualmachines`).send(vm('a', { cpu: 2, memory: '2Gi', disks: [{ name: 'd', size: '10Gi' }] })).expect(201);
    await second.req.post(`${NS}/virtualmachines`).send(vm('b', { cpu: 2, memory: '2Gi', disks: [{ name: 'root', image: 'debian', size: '10Gi' }, { name: 'v', volume: 'vol-1' }] })).expect(201);
    const cpu = await api.req.post(`${NS}/virtualmachines`).send(vm('c', { cpu: 1, memory: '1Mi' })).expect(403);
    expect(cpu.body.message).toMatch(/exceeded quota: sized, requested: cpu=1,memory=1Mi, used: cpu=4,memory=4Gi, limited: cpu=4,memory=4Gi/);
    const storage = await api.req.post(`${NS}/volumes`).send(volume('vol-1', '6Gi')).expect(403);
    expect(storage.body.message).toMatch(/requested: storage=6Gi, used: storage=20Gi, limited: storage=25Gi/);
    await api.req.post(`${NS}/volumes`).send(volume('vol-1', '5Gi')).expect(201);
    expect(await totals('sized')).toEqual({ vms: 2, cpu: 4, memory: 4 * GiB, storage: 25 * GiB });
  });

  test('resizing down releases, resizing up is checked (merge patch, PUT, apply); dry runs write nothing', async () => {
    await merge(api.req, `${NS}/virtualmachines/a`, { spec: { cpu: 1 } }).expect(200);
    expect((await totals('sized')).cpu).toBe(3);
    const over = await merge(second.req, `${NS}/virtualmachines/b`, { spec: { cpu: 4 } }).expect(403);
    expect(over.body.message).toMatch(/requested: cpu=4, used: cpu=3, limited: cpu=4/);
    await merge(second.req, `${NS}/virtualmachines/b`, { spec: { cpu: 4 } }).query({ dryRun: 'All' }).expect(403);
    const cur = (await api.req.get(`${NS}/virtualmachines/a`)).body;
    await api.req.put(`${NS}/virtualmachines/a`).send({ ...cur, spec: { ...cur.spec, cpu: 2 } }).expect(200);
    expect((await totals('sized')).cpu).toBe(4);
    await api.req.patch(`${NS}/virtualmachines/a?fieldManager=t&force=true`).set('Content-Type', 'application/apply-patch+yaml')
      .send(JSON.stringify(vm('a', { cpu: 3, memory: '2Gi', disks: [{ name: 'd', size: '10Gi' }] }))).expect(403);
    await merge(api.req, `${NS}/virtualmachines/a`, { spec: { memory: '1Gi' } }).query({ dryRun: 'All' }).expect(200);
    await api.req.post(`${NS}/volumes?dryRun=All`).send(volume('vol-2', '1Gi')).expect(403);
    expect(await totals('sized')).toEqual({ vms: 2, cpu: 4, memory: 4 * GiB, storage: 25 * GiB });
    expect(await totals('sized')).toEqual(await fromObjects('sized'));
  });

  test('a delete releases at once; a new object fits right after', async () => {
    await api.req.delete(`${NS}/volumes/vol-1`).expect(200);
    await second.req.post(`${NS}/volumes`).send(volume('vol-3', '5Gi')).expect(201);
    await api.req.delete(`${NS}/virtualmachines/a`).expect(200);
    await api.req.post(`${NS}/virtualmachines`).send(vm('c', { cpu: 2, memory: '2Gi' })).expect(201);
    expect(await totals('sized')).toEqual(await fromObjects('sized'));
  });
});

test('a VM with a finalizer holds its quota until the agent removes the finalizer, then it is released', async () => {
  await api.req.post(`${API}/projects`).send(project('fin', { vms: 1 })).expect(201);
  const NS = `${API}/namespaces/fin/virtualmachines`;
  await api.req.post(NS).send(vm('held', {}, { finalizers: ['stratuslab.eu/agent'] })).expect(201);
  const del = await api.req.delete(`${NS}/held`).expect(200);
  expect(del.body.metadata.deletionTimestamp).toBeTruthy();
  await api.req.post(NS).send(vm('next')).expect(403);
  const ac = new AbortController();
  const following = second.security.reconciler.start(ac.signal);
  try {
    // The agent's way: straight to the store, not through the API.
    await api.store.guaranteedUpdate(vmKey('fin', 'held'), (cur) => ({ ...cur, metadata: { ...cur.metadata, finalizers: [] } }));
    await until('fin/next admitted (201) once the held VM is gone', async () => (await api.req.post(NS).send(vm('next'))).status === 201, { timeoutMs: 15_000, everyMs: 250 });
  } finally {
    ac.abort();
    await following;
  }
  expect(await totals('fin')).toEqual({ vms: 1, cpu: 1, memory: GiB, storage: 0 });
}, 60000);

test('a frontend that dies between reserving and creating leaks nothing: the reconciler expires its reservation', async () => {
  await api.req.post(`${API}/projects`).send(project('crash', { vms: 2 })).expect(201);
  const NS = `${API}/namespaces/crash/virtualmachines`;
  await api.req.post(NS).send(vm('real')).expect(201);
  // Reserved, then "crashed" before the object was written.
  await api.security.ledger.raise('crash', 'VirtualMachine/ghost', { vms: 1, cpu: 1, memory: GiB, storage: 0 }, { enforce: true, limits: { vms: 2 }, what: 'x' });
  expect((await totals('crash')).vms).toBe(2);
  await api.req.post(NS).send(vm('refused')).expect(403);
  // Within the grace period the reservation may still be a create in flight: it is kept.
  expect((await api.security.reconciler.reconcileProject('crash')).repaired).toBe(0);
  expect((await totals('crash')).vms).toBe(2);
  const later = new QuotaReconciler({
    leases: new LeaseRepository({ client: api.client, keyspace: api.keyspace, family: 'quota' }), store: api.store, ledger: api.security.ledger, clock: { ...systemClock, now: () => Date.now() + 10 * 60_000 }, graceMs: 120_000,
  });
  expect((await later.reconcileProject('crash')).repaired).toBe(1);
  expect(await totals('crash')).toEqual(await fromObjects('crash'));
  await api.req.post(NS).send(vm('fits')).expect(201);
});

test('usage never drifts: lost and bogus charges are repaired from the objects, and a clean ledger needs no repair', async () => {
  await api.req.post(`${API}/projects`).send(project('drift', { vms: 50, cpu: 200 })).expect(201);
  const NS = `${API}/namespaces/drift`;
  // Churn through both frontends: creates, resizes, deletes, interleaved.
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 30; i++) {
    const r = i % 2 ? api.req : second.req;
    ops.push(r.post(`${NS}/virtualmachines`).send(vm(`d-${i}`, { cpu: 1 + (i % 3) })).then(async (res) => {
      if (res.status !== 201) throw new Error(`create d-${i}: ${res.status}`);
      if (i % 3 === 0) await merge(r, `${NS}/virtualmachines/d-${i}`, { spec: { cpu: 4 } }).expect(200);
      if (i % 5 === 0) await r.delete(`${NS}/virtualmachines/d-${i}`).expect(200);
    }));
    if (i % 4 === 0) ops.push(r.post(`${NS}/volumes`).send(volume(`v-${i}`, `${i + 1}Gi`)).expect(201));
  }
  await Promise.all(ops);
  expect(await totals('drift')).toEqual(await fromObjects('drift'));
  expect((await api.security.reconciler.reconcileProject('drift')).repaired).toBe(0);
  // A lost charge (as if a settle never landed) and a charge of an object that does not exist.
  await api.client.execute(`DELETE FROM ${api.keyspace}.quota_usage WHERE project = 'drift' AND item = 'VirtualMachine/d-1'`);
  await api.client.execute(`INSERT INTO ${api.keyspace}.quota_usage (project, item, state) VALUES ('drift', 'VirtualMachine/nonexistent', ?)`,
    [JSON.stringify({ c: { vms: 1, cpu: 8, memory: 0, storage: 0 }, uid: 'x', rv: '', p: {}, g: {} })], { prepare: true });
  const r = await api.security.reconciler.reconcileProject('drift');
  expect(r.repaired).toBe(2);
  const rows = await api.security.ledger.snapshot('drift');
  const sum = [...rows.rows.values()].reduce((s, row) => add(s, row.c), { ...ZERO });
  expect(sum).toEqual(await fromObjects('drift'));
}, 60000);

test('a project without a quota is accounted too (status.usage), and nothing is refused', async () => {
  await api.req.post(`${API}/projects`).send(project('free')).expect(201);
  for (let i = 0; i < 5; i++) await api.req.post(`${API}/namespaces/free/virtualmachines`).send(vm(`f-${i}`, { cpu: 2 })).expect(201);
  expect(await totals('free')).toEqual({ vms: 5, cpu: 10, memory: 5 * GiB, storage: 0 });
  await api.security.usage.flush();
  const p = (await api.req.get(`${API}/projects/free`).expect(200)).body;
  expect(p.status.usage).toEqual({ vms: 5, cpu: 10, memory: '5Gi', storage: '0' });
});
