// Host failure and drain with simulated agents. A host killed under load: its lease expires (Ready=False/LeaseExpired), its agent fences (stops
// its VMs) at T_fence, and after T_resched its runStrategy-Always VMs are unbound and run
// elsewhere; a Manual VM stays bound with Ready=Unknown. A ledger of every simulated VM start and
// stop shows that no VM ever ran in two places at once. A drained host: its VMs are stopped by
// their agent first, then placed elsewhere.
import pino from 'pino';
import { claimsOf, ALLOCATION_KIND } from '../controllers/placement/allocation-record';
import { Informer } from '../runtime';
import { hostObject, vmObject } from '../controllers/testing/fixtures';
import { startReplicas, type RunningReplicas } from '../controllers/testing/replicas';
import { Ledger, SimAgent } from '../controllers/testing/sim-agent';
import type { ObjectStore, StoredObject } from '../store';
import { openTestStore, type TestStore } from './helpers/store';

jest.setTimeout(90_000);

let t: TestStore;
let store: ObjectStore;
let running: RunningReplicas | undefined;
const agentsAc = new AbortController();
const agentsDone: Promise<void>[] = [];
/** every start and stop of every simulated VM, over both tests */
const ledger = new Ledger();

beforeAll(async () => {
  t = await openTestStore('placement_hostfail', { followerGraceMs: 200, followerOverlapMs: 300 });
  store = t.store;
});
afterAll(async () => {
  agentsAc.abort();
  await Promise.all(agentsDone);
  await running?.stop();
  await t.close();
});

const cond = (o: StoredObject | undefined, type: string) => (o?.status?.conditions as { type: string; status: string; reason?: string }[] | undefined)?.find((c) => c.type === type);

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const T = { heartbeatMs: 200, leaseDurationMs: 1000, fenceMs: 1500, rescheduleMs: 3000 };
let agents: Map<string, SimAgent>;
/** the host killed by the first test */
let deadHost: string | undefined;

test('a killed host\'s VMs run elsewhere after T_resched, and no VM ever runs twice', async () => {
  const hosts = Array.from({ length: 6 }, (_, i) => `hv-${i}`);
  for (const h of hosts) await store.create(hostObject(h, { ready: false, cpu: 8, memory: '16Gi' }));
  // the simulated agents follow the VMs bound to their hosts through one shared informer
  const agentVms = new Informer({ store, kind: 'VirtualMachine', pollIntervalMs: 50, logger: pino({ level: 'silent' }) });
  agentVms.addIndex('host', (v) => (v.status?.host ? [String(v.status.host)] : []));
  agentsDone.push(agentVms.start(agentsAc.signal));
  await agentVms.waitForSync();
  agents = new Map(hosts.map((h) => [h, new SimAgent({ store, host: h, vms: agentVms, ledger, heartbeatMs: T.heartbeatMs, fenceMs: T.fenceMs })]));
  for (const a of agents.values()) agentsDone.push(a.start(agentsAc.signal));

  running = await startReplicas(store, 2, {
    hostHealth: { leaseDurationMs: T.leaseDurationMs, fenceMs: T.fenceMs, rescheduleMs: T.rescheduleMs },
    audit: { periodMs: 60_000 },
  });
  await until(async () => (await Promise.all(hosts.map((h) => store.get({ kind: 'Host', namespace: '', name: h })))).every((h) => cond(h, 'Ready')?.status === 'True'));

  const names = Array.from({ length: 24 }, (_, i) => `vm-${i}`);
  for (const n of names) await store.create(vmObject('hf', n));
  await store.create(vmObject('hf', 'manual-0', { runStrategy: 'Manual' }));
  const all = [...names, 'manual-0'];
  const getVm = (n: string) => store.get({ kind: 'VirtualMachine', namespace: 'hf', name: n });
  await until(async () => (await Promise.all(all.map(getVm))).every((v) => v?.status?.phase === 'Running'));

  const victim = (await getVm('manual-0'))!.status!.host as string;
  const before = await Promise.all(names.map(getVm));
  const evacuees = before.filter((v) => v!.status!.host === victim).map((v) => v!.metadata.name);
  expect(evacuees.length).toBeGreaterThan(0);
  const killedAt = Date.now();
  agents.get(victim)!.kill();
  deadHost = victim;

  // NotReady once the lease expires, well before T_resched
  const h = await until(async () => {
    const o = await store.get({ kind: 'Host', namespace: '', name: victim });
    return cond(o, 'Ready')?.status === 'False' ? o : undefined;
  });
  expect(cond(h, 'Ready')!.reason).toBe('LeaseExpired');
  // the evacuees run elsewhere
  await until(async () => (await Promise.all(evacuees.map(getVm))).every((v) => v!.status?.host && v!.status.host !== victim && v!.status.phase === 'Running'));
  const movedAt = Date.now();
  expect(movedAt - killedAt).toBeGreaterThanOrEqual(T.rescheduleMs);
  // never two running copies: every interval on the victim ended (fence) before its replacement started
  expect(ledger.overlaps()).toEqual([]);
  for (const n of evacuees) {
    const runs = ledger.intervals.filter((i) => i.vm === `hf/${n}`).sort((a, b) => a.start - b.start);
    expect(runs.map((r) => r.host)[0]).toBe(victim);
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
  const rec = await store.get({ kind: ALLOCATION_KIND, namespace: '', name: victim });
  expect(Object.values(claimsOf(rec)).map((c) => c.vm)).toEqual(['hf/manual-0']);
  expect(await running.counter('stratus_host_health_rescheduled_vms_total')).toBe(evacuees.length);
});

test('draining a host moves its VMs elsewhere, each stopped by its agent before it starts again', async () => {
  // continues on the cluster of the previous test (five live hosts, one dead)
  const getVm = (n: string) => store.get({ kind: 'VirtualMachine', namespace: 'hf', name: n });
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
  await until(async () => (await Promise.all(leaving.map(getVm))).every((v) => v!.status?.host && v!.status.host !== target && v!.status.phase === 'Running'));
  const rec = await store.get({ kind: ALLOCATION_KIND, namespace: '', name: target });
  expect(claimsOf(rec)).toEqual({});
  expect(ledger.overlaps()).toEqual([]);
  for (const n of leaving) {
    expect(cond(await getVm(n), 'Evicting')).toBeUndefined();
    const runs = ledger.intervals.filter((i) => i.vm === `hf/${n}`).sort((a, b) => a.start - b.start);
    const i = runs.findIndex((r) => r.host === target);
    expect(runs[i].stop).toBeDefined();
    expect(runs[i + 1].start).toBeGreaterThan(runs[i].stop!);
  }
});

test('an agent that lost its lease but still heartbeats (Fenced=True): NotReady, its VMs moved after T_resched - T_fence', async () => {
  const getVm = (n: string) => store.get({ kind: 'VirtualMachine', namespace: 'hf', name: n });
  const vms = (await store.list('VirtualMachine', 'hf')).items.filter((v) => (v.spec as { runStrategy: string }).runStrategy === 'Always');
  const ready = await Promise.all([...agents.keys()].map((h) => store.get({ kind: 'Host', namespace: '', name: h })));
  const live = new Set(ready.filter((h) => cond(h, 'Ready')?.status === 'True' && !h!.spec?.unschedulable).map((h) => h!.metadata.name));
  const target = vms.map((v) => v.status!.host as string).find((h) => live.has(h))!;
  const leaving = vms.filter((v) => v.status!.host === target).map((v) => v.metadata.name);
  const fencedAt = Date.now();
  agents.get(target)!.loseLease();
  const h = await until(async () => {
    const o = await store.get({ kind: 'Host', namespace: '', name: target });
    return cond(o, 'Ready')?.status === 'False' ? o : undefined;
  });
  expect(cond(h, 'Ready')!.reason).toBe('AgentFenced');
  await until(async () => (await Promise.all(leaving.map(getVm))).every((v) => v!.status?.host && v!.status.host !== target && v!.status.phase === 'Running'));
  expect(Date.now() - fencedAt).toBeGreaterThanOrEqual(T.rescheduleMs - T.fenceMs);
  expect(ledger.overlaps()).toEqual([]);
});

test('a VM deleted while bound to a failed host is not stuck on its agent\'s finalizer', async () => {
  expect(deadHost).toBeDefined();
  const created = await store.create({ ...vmObject('hf', 'doomed', { runStrategy: 'Manual' }), metadata: { name: 'doomed', namespace: 'hf', finalizers: ['stratuslab.eu/agent'] } });
  await store.updateStatus({ ...created, status: { host: deadHost, phase: 'Running' } });
  const { deleted } = await store.delete({ kind: 'VirtualMachine', namespace: 'hf', name: 'doomed' });
  expect(deleted).toBe(false);
  // host health, still finding the host failed, releases the finalizer and the object goes
  await until(async () => (await store.get({ kind: 'VirtualMachine', namespace: 'hf', name: 'doomed' })) === undefined || undefined);
  // the Manual VM on the same host is still there, untouched
  expect((await store.get({ kind: 'VirtualMachine', namespace: 'hf', name: 'manual-0' }))!.status!.host).toBe(deadHost);
});
