// Resizing bound VMs on a real Cassandra node: the host claim follows a resize that fits, a resize
// that does not fit leaves the old allocation and says so (Resized=False/InsufficientCapacity)
// until capacity is freed, the filters and the audit agree with the resized claims, and two
// resizes racing for the same room never over-allocate the host.
import pino from 'pino';
import { Registry } from 'prom-client';
import { AllocationAudit } from '../../controllers/allocation-audit';
import { PlacementMetrics } from '../../controllers/metrics';
import { ALLOCATION_KIND, claimsOf, totalOf } from '../../controllers/placement/allocation-record';
import { hostObject, vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { StoredObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(90_000);

const suite = placementSuite('placement_resize');
let running: RunningReplicas;

const Gi = 2 ** 30;
const TIMEOUT_MS = 30_000;
const getVm = async (name: string) => (await suite.store.get(vmKey('rs', name)))!;
const cond = conditionOf;
const record = async (host: string) => claimsOf(await suite.store.get({ kind: ALLOCATION_KIND, namespace: '', name: host }));
const claimOf = async (name: string) => (await record('hv-1'))[(await getVm(name)).metadata.uid!];

const boundHost = (name: string) => until(`rs/${name} bound to a host`, async () => (await getVm(name)).status?.host as string | undefined, TIMEOUT_MS);
const resize = (name: string, cpu: number) => suite.store.guaranteedUpdate(vmKey('rs', name), (cur) => {
  cur.spec!.cpu = cpu;
  return cur;
});
const resizedCondition = (name: string, status: 'True' | 'False') =>
  until(`rs/${name} Resized=${status} for its generation`, async () => { const v = await getVm(name); const c = cond(v, 'Resized'); return c?.status === status && c.observedGeneration === v.metadata.generation ? c : undefined; }, TIMEOUT_MS);

test('a resize that fits moves the claim; one that does not keeps the old allocation and says why until room is freed', async () => {
  await suite.store.create(hostObject('hv-1', { cpu: 8, memory: '16Gi' }));
  running = await suite.start(2, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(vmObject('rs', 'a', { cpu: 2, memory: '2Gi' }));
  await suite.store.create(vmObject('rs', 'b', { cpu: 4, memory: '2Gi' }));
  await boundHost('a');
  await boundHost('b');

  await resize('a', 4);
  expect(await resizedCondition('a', 'True')).toMatchObject({ reason: 'Resized', message: 'resized on hv-1 from cpu 2, memory 2Gi to cpu 4, memory 2Gi' });
  expect(await claimOf('a')).toMatchObject({ cpu: 4, memory: 2 * Gi });

  await resize('b', 6);
  expect(await resizedCondition('b', 'False')).toMatchObject({
    reason: 'InsufficientCapacity',
    message: 'host hv-1 has no room for the new size: insufficient cpu (6 requested, 4 available to this VM); keeping the previous allocation: cpu 4, memory 2Gi',
  });
  expect(await claimOf('b')).toMatchObject({ cpu: 4 });
  expect(totalOf(await record('hv-1')).cpu).toBe(8);

  // the filters see the resized claims: the host is full
  await suite.store.create(vmObject('rs', 'c', { cpu: 1, memory: '1Gi' }));
  const c = await until('rs/c to get a Scheduled condition', async () => { const v = await getVm('c'); return cond(v, 'Scheduled') ? v : undefined; }, TIMEOUT_MS);
  expect(cond(c, 'Scheduled')).toMatchObject({ status: 'False', message: '0/1 hosts fit: 1 insufficient cpu' });

  // the audit agrees: nothing to repair, and it publishes what the claims hold
  const r = running.replicas[0];
  const audit = new AllocationAudit({ store: suite.store, informers: r.informers, cache: r.cache, logger: pino({ level: 'silent' }), metrics: new PlacementMetrics(new Registry()), claimGraceMs: 1000 });
  expect(await audit.runOnce()).toMatchObject({ leaked: 0, missing: 0 });
  expect((await suite.store.get({ kind: 'Host', namespace: '', name: 'hv-1' }))!.status!.allocated).toMatchObject({ cpu: '8' });
  expect(await claimOf('b')).toMatchObject({ cpu: 4 });

  // shrinking a frees 3 cpus: b's resize (+2) goes through, and c (1) is placed
  await resize('a', 1);
  expect(await resizedCondition('b', 'True')).toMatchObject({ reason: 'Resized' });
  expect(await boundHost('c')).toBe('hv-1');
  const claims = await until('three claims on hv-1', async () => { const l = await record('hv-1'); return Object.keys(l).length === 3 ? l : undefined; }, TIMEOUT_MS);
  expect(Object.values(claims).map((x) => x.cpu).sort()).toEqual([1, 1, 6]);
  expect(totalOf(claims).cpu).toBe(8);
});

test('two VMs growing at once into room for one: exactly one is resized, the host is never over-allocated', async () => {
  await suite.store.create(hostObject('hv-1', { cpu: 8, memory: '16Gi' }));
  running = await suite.start(3, { enable: { audit: false, hostHealth: false } });
  await suite.store.create(vmObject('rs', 'x', { cpu: 2 }));
  await suite.store.create(vmObject('rs', 'y', { cpu: 2 }));
  await boundHost('x');
  await boundHost('y');
  await Promise.all([resize('x', 5), resize('y', 5)]);
  const conds = await Promise.all(['x', 'y'].map((n) => until(`rs/${n} to get a Resized condition for its generation`, async () => {
    const v = await getVm(n);
    const c = cond(v, 'Resized');
    return c?.observedGeneration === v.metadata.generation ? c : undefined;
  }, TIMEOUT_MS)));
  expect(conds.map((c) => c.status).sort()).toEqual(['False', 'True']);
  const claims = await record('hv-1');
  expect(Object.values(claims).map((x) => x.cpu).sort()).toEqual([2, 5]);
  expect(totalOf(claims).cpu).toBeLessThanOrEqual(8);
});
