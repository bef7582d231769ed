// Placement on a real Cassandra node: binding and allocation records, each filter and policy end
// to end, the Unschedulable message and its retry when a host appears, anti-affinity spreading a
// group across concurrent replicas, release on delete, the audit's repairs, and VM phases.
import pino from 'pino';
import { Registry } from 'prom-client';
import { AllocationAudit } from '../../controllers/allocation-audit';
import { PlacementMetrics } from '../../controllers/metrics';
import { ALLOCATION_KIND, claimsOf } from '../../controllers/placement/allocation-record';
import { hostObject, vmKey, vmObject, pool, conditionOf } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { HostAllocationObject, StoredObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(60_000);

const suite = placementSuite('placement');
let running: RunningReplicas;

const getVm = async (ns: string, name: string) => (await suite.store.get(vmKey(ns, name)))!;
const cond = conditionOf;

const TIMEOUT_MS = 20_000;
const boundHost = (ns: string, name: string) => until(`${ns}/${name} bound to a host`, async () => (await getVm(ns, name)).status?.host as string | undefined, TIMEOUT_MS);

test('a VM is bound by status.host with Scheduled=True after a claim on its host allocation record', async () => {
  await suite.store.create(hostObject('hv-1'));
  running = await suite.start(1, { enable: { audit: false } });
  const created = await suite.store.create(vmObject('demo', 'web-1', { cpu: 2, memory: '2Gi', disks: [{ name: 'root', image: 'debian', size: '10Gi' }] }));
  expect(await boundHost('demo', 'web-1')).toBe('hv-1');
  const vm = await getVm('demo', 'web-1');
  expect(cond(vm, 'Scheduled')).toMatchObject({ status: 'True', reason: 'Scheduled' });
  expect(vm.status!.phase).toBe('Scheduled');
  expect(vm.metadata.generation).toBe(1);
  const rec = (await suite.store.get<HostAllocationObject>({ kind: ALLOCATION_KIND, namespace: '', name: 'hv-1' }))!;
  expect(claimsOf(rec)[created.metadata.uid!]).toMatchObject({ vm: 'demo/web-1', cpu: 2, memory: 2 * 2 ** 30, storage: 10 * 2 ** 30 });
  // the agent can find its VMs cheaply by field selector
  const mine = await suite.store.list('VirtualMachine', undefined, { fieldSelector: [{ field: 'status.host', op: '=', value: 'hv-1' }] });
  expect(mine.items.map((o) => o.metadata.name)).toEqual(['web-1']);
  expect(await running.counter('stratus_scheduler_placements_total')).toBe(1);
});

test('filters: host selector, taints and tolerations, cordoned and not-ready hosts, reserved capacity', async () => {
  await suite.store.create(hostObject('plain'));
  await suite.store.create(hostObject('ssd', { labels: { disk: 'ssd' } }));
  await suite.store.create(hostObject('tainted', { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] }));
  await suite.store.create(hostObject('cordoned', { unschedulable: true, labels: { disk: 'ssd' } }));
  await suite.store.create(hostObject('down', { ready: false, labels: { disk: 'ssd' } }));
  await suite.store.create(hostObject('reserved', { memory: '16Gi', reserved: { memory: '12Gi' }, labels: { big: 'maybe' } }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  // 4Gi of 'reserved' are allocatable (16Gi - 12Gi reserved): fill it first, before a pack VM may take a slice
  await suite.store.create(vmObject('f', 'too-big-for-reserved', { memory: '5Gi', placement: { hostSelector: { big: 'maybe' } } }));
  await suite.store.create(vmObject('f', 'fits-reserved', { memory: '4Gi', placement: { hostSelector: { big: 'maybe' } } }));
  expect(await boundHost('f', 'fits-reserved')).toBe('reserved');
  await suite.store.create(vmObject('f', 'wants-ssd', { placement: { hostSelector: { disk: 'ssd' } } }));
  await suite.store.create(vmObject('f', 'tolerates', { placement: { hostSelector: {}, tolerations: [{ key: 'maintenance', operator: 'Exists' }], policy: 'pack' } }));
  expect(await boundHost('f', 'wants-ssd')).toBe('ssd');
  expect(['plain', 'ssd', 'tainted']).toContain(await boundHost('f', 'tolerates'));
  const big = await until('f/too-big-for-reserved to get a Scheduled condition', async () => { const v = await getVm('f', 'too-big-for-reserved'); return cond(v, 'Scheduled') ? v : undefined; }, TIMEOUT_MS);
  expect(cond(big, 'Scheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
  expect(cond(big, 'Scheduled')!.message).toBe('0/6 hosts fit: 3 host selector mismatch, 1 cordoned, 1 insufficient memory, 1 not ready');
  // nothing may land on the tainted host without a toleration
  const names = Array.from({ length: 12 }, (_, i) => `plain-${i}`);
  await pool(names, 6, (n) => suite.store.create(vmObject('f', n, { cpu: 1, memory: '512Mi' })));
  for (const n of names) expect(['plain', 'ssd']).toContain(await boundHost('f', n));
});

test('an unschedulable VM says why, stays Pending, and is placed when a host that fits appears', async () => {
  for (let i = 0; i < 3; i++) await suite.store.create(hostObject(`small-${i}`, { memory: '2Gi' }));
  await suite.store.create(hostObject('gpu', { memory: '64Gi', taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(vmObject('u', 'huge', { memory: '32Gi' }));
  const v = await until('u/huge to get a Scheduled condition', async () => { const o = await getVm('u', 'huge'); return cond(o, 'Scheduled') ? o : undefined; }, TIMEOUT_MS);
  expect(cond(v, 'Scheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable', message: '0/4 hosts fit: 3 insufficient memory, 1 untolerated taint' });
  expect(v.status!.phase).toBe('Pending');
  expect(v.status!.observedGeneration).toBe(1);
  await suite.store.create(hostObject('big', { memory: '64Gi' }));
  expect(await boundHost('u', 'huge')).toBe('big');
  expect(cond(await getVm('u', 'huge'), 'Scheduled')).toMatchObject({ status: 'True' });
});

test('policies: pack fills one host first, spread evens hosts out', async () => {
  for (const h of ['a', 'b', 'c', 'd']) await suite.store.create(hostObject(h, { memory: '8Gi' }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false }, scheduler: { topCandidates: 1, workers: 1 } });
  for (let i = 0; i < 4; i++) {
    await suite.store.create(vmObject('pol', `pack-${i}`, { placement: { policy: 'pack' } }));
    await boundHost('pol', `pack-${i}`);
  }
  const packed = await Promise.all([0, 1, 2, 3].map((i) => boundHost('pol', `pack-${i}`)));
  expect(new Set(packed).size).toBe(1);
  for (let i = 0; i < 3; i++) {
    await suite.store.create(vmObject('pol', `spread-${i}`, { placement: { policy: 'spread' } }));
    await boundHost('pol', `spread-${i}`);
  }
  const spread = await Promise.all([0, 1, 2].map((i) => boundHost('pol', `spread-${i}`)));
  expect(new Set(spread).size).toBe(3);
  expect(spread).not.toContain(packed[0]);
});

test('required anti-affinity spreads a group across hosts even with three replicas placing it at once', async () => {
  for (let i = 0; i < 8; i++) await suite.store.create(hostObject(`hv-${i}`, { labels: { rack: `r${i % 4}` } }));
  running = await suite.start(3, { enable: { audit: false, hostHealth: false }, scheduler: { topCandidates: 3, defaultPolicy: 'pack' } });
  const anti = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'host' }] };
  const names = Array.from({ length: 8 }, (_, i) => `web-${i}`);
  await Promise.all(names.map((n) => suite.store.create(vmObject('aa', n, { labels: { app: 'web' }, placement: anti }))));
  const hosts = await Promise.all(names.map((n) => boundHost('aa', n)));
  expect(new Set(hosts).size).toBe(8);
  // a ninth member has nowhere to go
  await suite.store.create(vmObject('aa', 'web-8', { labels: { app: 'web' }, placement: anti }));
  const v = await until('aa/web-8 to get a Scheduled condition', async () => { const o = await getVm('aa', 'web-8'); return cond(o, 'Scheduled') ? o : undefined; }, TIMEOUT_MS);
  expect(cond(v, 'Scheduled')!.message).toBe('0/8 hosts fit: 8 anti-affinity conflict');
  // By rack, one VM at a time (a group placed at once by racing replicas, which TopologyClaim
  // records keep one per rack, is placement-antiaffinity.test.ts's).
  const rackAnti = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };
  for (let i = 0; i < 4; i++) {
    await suite.store.create(vmObject('aa', `db-${i}`, { labels: { app: 'db' }, placement: rackAnti }));
    await boundHost('aa', `db-${i}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const racks = await Promise.all([0, 1, 2, 3].map(async (i) => `r${Number((await boundHost('aa', `db-${i}`)).slice(3)) % 4}`));
  expect(new Set(racks).size).toBe(4);
});

test('deleting a bound VM releases its claim; the audit removes leaked claims and restores missing ones', async () => {
  await suite.store.create(hostObject('hv-a'));
  await suite.store.create(hostObject('hv-b'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  const v = await suite.store.create(vmObject('d', 'gone-soon'));
  const host = await boundHost('d', 'gone-soon');
  const recKey = { kind: ALLOCATION_KIND, namespace: '', name: host };
  expect(Object.keys(claimsOf(await suite.store.get(recKey)))).toEqual([v.metadata.uid]);
  await suite.store.delete(vmKey('d', 'gone-soon'));
  await until('the claim released', async () => Object.keys(claimsOf(await suite.store.get(recKey))).length === 0, TIMEOUT_MS);

  // A crash left a claim with no VM behind, and a VM bound with no claim.
  await suite.store.guaranteedUpdate(recKey, (cur) => {
    (cur.spec as { claims: object }).claims = { 'dead-uid': { vm: 'd/ghost', cpu: 4, memory: 2 ** 30, storage: 0, by: 'crashed/1', at: Date.now() - 600_000 } };
    return cur;
  });
  await until('the leaked claim in the cache', async () => Object.keys(claimsOf(running!.replicas[0].cache.record(host))).length === 1, TIMEOUT_MS);
  const other = host === 'hv-a' ? 'hv-b' : 'hv-a';
  const manual = await suite.store.create(vmObject('d', 'manual', { runStrategy: 'Halted' }));
  await suite.store.updateStatus({ ...manual, status: { host: other } });
  await until('d/manual bound in the informer', async () => running!.replicas[0].informers.vms.get('d/manual')?.status?.host === other, TIMEOUT_MS);

  const r = running.replicas[0];
  const audit = new AllocationAudit({ store: suite.store, informers: r.informers, cache: r.cache, logger: pino({ level: 'silent' }), metrics: new PlacementMetrics(new Registry()), claimGraceMs: 1000 });
  expect(await audit.runOnce()).toMatchObject({ leaked: 1, missing: 1 });
  expect(claimsOf(await suite.store.get(recKey))).toEqual({});
  expect(Object.keys(claimsOf(await suite.store.get({ kind: ALLOCATION_KIND, namespace: '', name: other })))).toEqual([manual.metadata.uid]);
  const h = (await suite.store.get({ kind: 'Host', namespace: '', name: other }))!;
  expect(h.status!.allocated).toEqual({ cpu: '1', memory: '1Gi' });
  expect(await audit.runOnce()).toMatchObject({ leaked: 0, missing: 0 });
});

test('phase follows binding and the agent Ready condition, with observedGeneration', async () => {
  await suite.store.create(hostObject('hv-1'));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(vmObject('ph', 'v'));
  await boundHost('ph', 'v');
  const bound = await getVm('ph', 'v');
  expect(bound.status!.phase).toBe('Scheduled');
  await suite.store.updateStatus({ ...bound, status: { ...bound.status, conditions: [...(bound.status!.conditions as object[]), { type: 'Ready', status: 'True', observedGeneration: 1 }] } });
  const runningVm = await until('ph/v Running', async () => { const o = await getVm('ph', 'v'); return o.status?.phase === 'Running' ? o : undefined; }, TIMEOUT_MS);
  expect(runningVm.status!.observedGeneration).toBe(1);
  await suite.store.create(vmObject('ph', 'halted', { runStrategy: 'Halted' }));
  const halted = await until('ph/halted to get a phase', async () => { const o = await getVm('ph', 'halted'); return o.status?.phase ? o : undefined; }, TIMEOUT_MS);
  expect(halted.status).toMatchObject({ phase: 'Stopped', observedGeneration: 1 });
  expect(halted.status!.host).toBeUndefined();
});
