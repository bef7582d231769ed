// Host failure and drain with real agents on hollow hosts (libvirt's test driver). A host cut off
// from Cassandra under load: its lease expires (Ready=False/LeaseExpired), its agent fences (stops
// its VMs) at T_fence, and after T_resched its runStrategy-Always VMs are unbound and run
// elsewhere; a Manual VM stays bound with Ready=Unknown. A ledger of every domain start and stop
// (libvirt's lifecycle events) shows that no VM ever ran in two places at once. A drained host: its
// VMs are stopped by their agent first, then placed elsewhere. An agent refused its lease fences.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimsOf, ALLOCATION_KIND } from '../../controllers/placement/allocation-record';
import { vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { startHollowAgents, type HollowAgent, type HollowAgents, type Ledger } from '../helpers/hollow-agents';
import type { HostAllocationObject, ObjectStore, StoredObject } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';

jest.setTimeout(120_000);

let t: TestStore;
let store: ObjectStore;
let running: RunningReplicas | undefined;
let dir: string;
let cluster: HollowAgents | undefined;
/** every start and stop of every domain, over all the tests */
let ledger: Ledger;

const T = { heartbeatMs: 300, leaseDurationMs: 2000, fenceMs: 2500, rescheduleMs: 5000 };
const TIMEOUT_MS = 45_000;
const FEED = { followerGraceMs: 200 };

beforeAll(async () => {
  t = await openTestStore('placement_hostfail', FEED);
  store = t.store;
  dir = await mkdtemp(join(tmpdir(), 'stratus-hostfail-'));
  // six real agents, each its own process as far as Cassandra is concerned (its own client); their
  // feed followers keep the default windows: an agent never re-lists, so a missed bind is never repaired
  cluster = await startHollowAgents({
    keyspace: t.keyspace, prefix: 'hv', count: 6, dir,
    timings: { renewIntervalMs: T.heartbeatMs, heartbeatIntervalMs: T.heartbeatMs, fenceAfterMs: T.fenceMs, resyncMs: 5000, shutdownGraceMs: 1000 },
  });
  ledger = cluster.ledger;
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await running?.stop();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const agentOf = (host: string): HollowAgent => cluster!.agents.find((a) => a.host === host)!;
const getVm = (n: string) => store.get(vmKey('hf', n));
/** until every VM of `names` is bound off `host`, Running, and its domain seen running there */
const movedOff = (host: string, names: string[]) => until(`${names.join(', ')} Running off ${host}`, async () => (await Promise.all(names.map(getVm))).every((v) => {
  const to = v?.status?.host;
  return to && to !== host && v.status!.phase === 'Running' && ledger.runs(`hf/${v.metadata.name}`).some((r) => r.host === to && r.stop === undefined);
}), TIMEOUT_MS);

const cond = conditionOf;

/** the host killed by the first test */
let deadHost: string | undefined;

test('a host cut off from Cassandra: its VMs run elsewhere after T_resched, and no VM ever runs twice', async () => {
  const hosts = cluster!.agents.map((a) => a.host);

  running = await startReplicas(store, 2, {
    hostHealth: { leaseDurationMs: T.leaseDurationMs, fenceMs: T.fenceMs, rescheduleMs: T.rescheduleMs },
    audit: { periodMs: 60_000 },
  });
  await until('every Host Ready', async () => (await Promise.all(hosts.map((h) => store.get({ kind: 'Host', namespace: '', name: h })))).every((h) => cond(h, 'Ready')?.status === 'True'), TIMEOUT_MS);

  const names = Array.from({ length: 24 }, (_, i) => `vm-${i}`);
  for (const n of names) await store.create(vmObject('hf', n));
  const manualVm = await store.create(vmObject('hf', 'manual-0', { runStrategy: 'Manual' }));
  // A Manual VM runs once its user starts it (the API's start action adds this request).
  await store.guaranteedUpdate(vmKey('hf', 'manual-0'), (cur) => {
    cur.status = { ...cur.status, stateChangeRequests: [{ action: 'Start', uid: manualVm.metadata.uid!, id: 'start-manual-0', requestTime: '2024-01-01T00:00:00Z' }] };
    return cur;
  }, { status: true });
  const all = [...names, 'manual-0'];
  let vmsSeen: (StoredObject | undefined)[] = [];
  await until('every VM Running', async () => (vmsSeen = await Promise.all(all.map(getVm))).every((v) => v?.status?.phase === 'Running'), {
    timeoutMs: TIMEOUT_MS,
    context: () => vmsSeen.filter((v) => v?.status?.phase !== 'Running').map((v) => `${v?.metadata.name} on ${v?.status?.host}: ${v?.status?.phase} ${JSON.stringify(cond(v, 'Ready') ?? cond(v, 'Scheduled'))}`).join('\n'),
  });

  const victim = (await getVm('manual-0'))!.status!.host as string;
  const before = await Promise.all(names.map(getVm));
  const evacuees = before.filter((v) => v!.status!.host === victim).map((v) => v!.metadata.name);
  expect(evacuees.length).toBeGreaterThan(0);
  const killedAt = Date.now();
  await agentOf(victim).partition();
  deadHost = victim;

  // NotReady once the lease expires, well before T_resched
  let seen: StoredObject | undefined;
  const h = await until(`${victim} NotReady`, async () => {
    seen = await store.get({ kind: 'Host', namespace: '', name: victim });
    return cond(seen, 'Ready')?.status === 'False' ? seen : undefined;
  }, { timeoutMs: TIMEOUT_MS, context: () => `now ${new Date().toISOString()}, the Host's status: ${JSON.stringify(seen?.status)}` });
  expect(cond(h, 'Ready')!.reason).toBe('LeaseExpired');
  // cut off, the agent fenced itself
  await until(`the agent of ${victim} fenced`, () => agentOf(victim).process.agents[0].snapshot().lease === 'fenced', TIMEOUT_MS);
  // the evacuees run elsewhere
  await movedOff(victim, evacuees);
  const movedAt = Date.now();
  expect(movedAt - killedAt).toBeGreaterThanOrEqual(T.rescheduleMs);
  // never two running copies: every interval on the victim ended (fence) before its replacement started
  expect(ledger.overlaps()).toEqual([]);
  for (const n of evacuees) {
    const runs = ledger.runs(`hf/${n}`);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0].host).toBe(victim);
    expect(runs[1].host).not.toBe(victim);
    expect(runs[0].stop).toBeDefined();
    expect(runs[1].start).toBeGreaterThan(runs[0].stop!);
  }
  // the Manual VM stays bound to the dead host and says its state is unknown
  const manual = (await getVm('manual-0'))!;
  expect(manual.status!.host).toBe(victim);
  expect(cond(manual, 'Ready')).toMatchObject({ status: 'Unknown', reason: 'HostNotReady' });
  // the VMs that were never on the victim did not move
  for (const v of before.filter((x) => x!.status!.host !== victim)) expect((await getVm(v!.metadata.name))!.status!.host).toBe(v!.status!.host);
  // the victim's allocation record only holds the Manual VM's claim
  const rec = await store.get<HostAllocationObject>({ kind: ALLOCATION_KIND, namespace: '', name: victim });
  expect(Object.values(claimsOf(rec)).map((c) => c.vm)).toEqual(['hf/manual-0']);
  expect(await running.counter('stratus_host_health_rescheduled_vms_total')).toBe(evacuees.length);
});

test('draining a host moves its VMs elsewhere, each stopped by its agent before it starts again', async () => {
  // continues on the cluster of the previous test (five live hosts, one dead)
  const vms = (await store.list('VirtualMachine', 'hf')).items.filter((v) => (v.spec as { runStrategy: string }).runStrategy === 'Always');
  const hostOf = new Map(vms.map((v) => [v.metadata.name, v.status!.host as string]));
  const counts = new Map<string, number>();
  for (const h of hostOf.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
  const [target] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  const leaving = [...hostOf].filter(([, h]) => h === target).map(([n]) => n);
  expect(leaving.length).toBeGreaterThan(0);
  await store.guaranteedUpdate({ kind: 'Host', namespace: '', name: target }, (cur) => {
    cur.metadata.annotations = { ...cur.metadata.annotations, 'stratuslab.eu/drain': 'true' };
    (cur.spec ??= {}).unschedulable = true;
    return cur;
  });
  await movedOff(target, leaving);
  const rec = await store.get<HostAllocationObject>({ kind: ALLOCATION_KIND, namespace: '', name: target });
  expect(claimsOf(rec)).toEqual({});
  expect(ledger.overlaps()).toEqual([]);
  for (const n of leaving) {
    expect(cond(await getVm(n), 'Evicting')).toBeUndefined();
    const runs = ledger.runs(`hf/${n}`);
    const i = runs.findIndex((r) => r.host === target);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(runs[i + 1]?.host).toBeDefined();
    expect(runs[i].stop).toBeDefined();
    expect(runs[i + 1].start).toBeGreaterThan(runs[i].stop!);
  }
});

test('an agent that lost its lease but still heartbeats (Fenced=True): NotReady, its VMs moved after T_resched - T_fence', async () => {
  const vms = (await store.list('VirtualMachine', 'hf')).items.filter((v) => (v.spec as { runStrategy: string }).runStrategy === 'Always');
  const ready = await Promise.all(cluster!.agents.map((a) => a.host).map((h) => store.get({ kind: 'Host', namespace: '', name: h })));
  const live = new Set(ready.filter((h) => cond(h, 'Ready')?.status === 'True' && !h!.spec?.unschedulable).map((h) => h!.metadata.name));
  const target = vms.map((v) => v.status!.host as string).find((h) => live.has(h))!;
  const leaving = vms.filter((v) => v.status!.host === target).map((v) => v.metadata.name);
  const fencedAt = Date.now();
  expect(leaving.length).toBeGreaterThan(0);
  agentOf(target).loseLease();
  const h = await until(`${target} NotReady`, async () => {
    const o = await store.get({ kind: 'Host', namespace: '', name: target });
    return cond(o, 'Ready')?.status === 'False' ? o : undefined;
  }, TIMEOUT_MS);
  expect(cond(h, 'Ready')!.reason).toBe('AgentFenced');
  expect(cond(h, 'Fenced')).toMatchObject({ status: 'True' });
  await movedOff(target, leaving);
  expect(Date.now() - fencedAt).toBeGreaterThanOrEqual(T.rescheduleMs - T.fenceMs);
  expect(ledger.overlaps()).toEqual([]);
});

test('a VM deleted while bound to a failed host is not stuck on its agent\'s finalizer', async () => {
  expect(deadHost).toBeDefined();
  const created = await store.create({ ...vmObject('hf', 'doomed', { runStrategy: 'Manual' }), metadata: { name: 'doomed', namespace: 'hf', finalizers: ['stratuslab.eu/agent'] } });
  await store.updateStatus({ ...created, status: { host: deadHost, phase: 'Running' } });
  const { deleted } = await store.delete(vmKey('hf', 'doomed'));
  expect(deleted).toBe(false);
  // host health, still finding the host failed, releases the finalizer and the object goes
  await until('hf/doomed gone', async () => (await getVm('doomed')) === undefined, TIMEOUT_MS);
  // the Manual VM on the same host is still there, untouched
  expect((await getVm('manual-0'))!.status!.host).toBe(deadHost);
});
