// Disks and moves, with real agents on hollow hosts (libvirt's test driver) and real controllers:
// a drained host gives up a VM whose disk is ephemeral (moved, its volume deleted on the old host)
// but keeps one whose disk is local data (the Host's Drained condition names it, the VM gets a
// Warning Event, its volume stays); when that host then fails, the VM is marked Failed with
// HostLostLocalDisks instead of being moved with a fresh disk, and once its user declares the disk
// ephemeral it is moved after all.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { startHollowAgents, type HollowAgent, type HollowAgents } from '../helpers/hollow-agents';
import type { ObjectStore, StoredObject } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';
import { EventBroadcaster } from '../../runtime/events';
import { EventRepository } from '../../store/events';
import { EVENT_FIELDS, type EventObject } from '../../kube/events';
import { parseFieldSelector } from '../../kube/selectors';
import { vmVolumeName } from '../../agents/names';

jest.setTimeout(120_000);

const T = { heartbeatMs: 300, leaseDurationMs: 2000, fenceMs: 2500, rescheduleMs: 5000 };
const TIMEOUT_MS = 45_000;
const NS = 'dk';

let t: TestStore;
let store: ObjectStore;
let dir: string;
let cluster: HollowAgents | undefined;
let running: RunningReplicas | undefined;
let events: EventRepository;

beforeAll(async () => {
  t = await openTestStore('placement_disks', { followerGraceMs: 200 });
  store = t.store;
  events = new EventRepository({ client: t.client, keyspace: t.keyspace, feed: t.store.feed });
  dir = await mkdtemp(join(tmpdir(), 'stratus-disks-'));
  cluster = await startHollowAgents({
    keyspace: t.keyspace, prefix: 'dk', count: 3, dir,
    timings: { renewIntervalMs: T.heartbeatMs, heartbeatIntervalMs: T.heartbeatMs, fenceAfterMs: T.fenceMs, resyncMs: 3000, shutdownGraceMs: 500 },
  });
  const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
  running = await startReplicas(store, 1, {
    logger,
    events: new EventBroadcaster({ sink: events, logger }),
    hostHealth: { leaseDurationMs: T.leaseDurationMs, fenceMs: T.fenceMs, rescheduleMs: T.rescheduleMs },
    audit: { periodMs: 60_000 },
  });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  await running?.stop();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const getVm = (n: string) => store.get(vmKey(NS, n));
const getHost = (n: string) => store.get({ kind: 'Host', namespace: '', name: n });
const agentOf = (host: string): HollowAgent => cluster!.agents.find((a) => a.host === host)!;
const eventsOf = async (name: string): Promise<EventObject[]> =>
  (await events.list([NS], { fieldSelector: parseFieldSelector(`involvedObject.kind=VirtualMachine,involvedObject.name=${name}`, EVENT_FIELDS) })).items;

/** A VM with one blank disk `data`, ephemeral or not. */
function diskVm(name: string, ephemeral: boolean): StoredObject {
  const base = vmObject(NS, name);
  return { ...base, spec: { ...base.spec, disks: [{ name: 'data', size: '1Gi', ...(ephemeral ? { ephemeral: true } : {}) }] } };
}

async function setUnschedulable(host: string, unschedulable: boolean): Promise<void> {
  await store.guaranteedUpdate({ kind: 'Host', namespace: '', name: host }, (cur) => {
    (cur.spec ??= {}).unschedulable = unschedulable;
    return cur;
  });
}

/** Until VM `name` runs on a host other than `host` (its last status in the timeout's message). */
async function runningElsewhere(name: string, host: string): Promise<StoredObject> {
  let seen: StoredObject | undefined;
  return until(`${name} Running off ${host}`, async () => {
    seen = await getVm(name);
    return seen?.status?.host && seen.status.host !== host && seen.status.phase === 'Running' ? seen : undefined;
  }, { timeoutMs: TIMEOUT_MS, context: () => JSON.stringify(seen?.status) });
}

/** Whether the test driver of `host` has volume `name` in its default pool. */
async function hasVolume(host: string, name: string): Promise<boolean> {
  const conn = agentOf(host).process.agents[0].conn!;
  const pool = await conn.lookupStoragePool('default');
  const vol = await pool!.lookupVolume(name);
  vol?.free();
  pool!.free();
  return vol !== undefined;
}

let home: string;
let keepUid: string;

test('draining a host moves a VM whose disk is ephemeral and keeps one whose disk is local data, saying why', async () => {
  const hosts = cluster!.agents.map((a) => a.host);
  await until('every Host Ready', async () => (await Promise.all(hosts.map(getHost))).every((h) => conditionOf(h, 'Ready')?.status === 'True'), TIMEOUT_MS);
  // both VMs on one host: the others cordoned meanwhile
  const [first, ...others] = hosts;
  for (const h of others) await setUnschedulable(h, true);
  // The schedulers learn of the cordons from their feed: create the VMs only once they have.
  await until('the schedulers see the cordons', async () => running!.replicas.every((r) => others.every((h) =>
    (r.informers.hosts.get(h) as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === true)), TIMEOUT_MS);
  keepUid = (await store.create(diskVm('keep', false))).metadata.uid!;
  const scratchUid = (await store.create(diskVm('scratch', true))).metadata.uid!;
  const [keep, scratch] = await until('both VMs Running', async () => {
    const vms = await Promise.all(['keep', 'scratch'].map(getVm));
    return vms.every((v) => v?.status?.phase === 'Running' && (v.status.volumes as unknown[] | undefined)?.length) ? vms : undefined;
  }, TIMEOUT_MS);
  home = keep!.status!.host as string;
  expect(home).toBe(first);
  expect(scratch!.status!.host).toBe(home);
  for (const h of others) await setUnschedulable(h, false);
  // the agent says where each disk lives: the local pool, not shared
  expect(keep!.status!.volumes).toEqual([expect.objectContaining({ name: 'data', pool: 'default' })]);
  expect((keep!.status!.volumes as { sharedPool?: string }[])[0].sharedPool).toBeUndefined();
  const keepVolume = vmVolumeName(NS, 'keep', 'data', keepUid);
  const scratchVolume = vmVolumeName(NS, 'scratch', 'data', scratchUid);
  expect(await hasVolume(home, keepVolume)).toBe(true);
  expect(await hasVolume(home, scratchVolume)).toBe(true);

  await store.guaranteedUpdate({ kind: 'Host', namespace: '', name: home }, (cur) => {
    cur.metadata.annotations = { ...cur.metadata.annotations, 'stratuslab.eu/drain': 'true' };
    (cur.spec ??= {}).unschedulable = true;
    return cur;
  });
  // the ephemeral one moves, and its old volume is deleted
  await runningElsewhere('scratch', home);
  await until(`scratch's volume gone from ${home}`, async () => !(await hasVolume(home, scratchVolume)), TIMEOUT_MS);
  // the other stays and runs, and the Host says why the drain cannot finish
  const drained = await until('Host Drained=False/DisksNotMovable', async () => {
    const c = conditionOf(await getHost(home), 'Drained');
    return c?.reason === 'DisksNotMovable' ? c : undefined;
  }, TIMEOUT_MS);
  expect(drained.status).toBe('False');
  expect(drained.message).toContain(`${NS}/keep`);
  expect(drained.message).toContain('disk data');
  const warning = await until('a DisksNotMovable Event on the VM', async () => (await eventsOf('keep')).find((e) => e.reason === 'DisksNotMovable'), TIMEOUT_MS);
  expect(warning.type).toBe('Warning');
  const kept = (await getVm('keep'))!;
  expect(kept.status!.host).toBe(home);
  expect(kept.status!.phase).toBe('Running');
  expect(conditionOf(kept, 'Evicting')).toBeUndefined();
  expect(await hasVolume(home, keepVolume)).toBe(true);
});

test('a failed host with a VM whose disk is local data: the VM is Failed/HostLostLocalDisks, not moved; declared ephemeral, it moves', async () => {
  expect(home).toBeDefined();
  await agentOf(home).partition();
  const failed = await until('keep Failed', async () => {
    const v = await getVm('keep');
    return v?.status?.phase === 'Failed' ? v : undefined;
  }, TIMEOUT_MS);
  expect(failed.status!.host).toBe(home);
  expect(conditionOf(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'HostLostLocalDisks' });
  expect(conditionOf(failed, 'Ready')!.message).toContain(home);
  expect(conditionOf(failed, 'Ready')!.message).toContain('disk data');
  expect(conditionOf(failed, 'Scheduled')?.reason).not.toBe('HostLost');
  // the Event is recorded after the status write (events are written off the reconcile path)
  await until('a HostLostLocalDisks Warning on the VM', async () => (await eventsOf('keep')).some((e) => e.reason === 'HostLostLocalDisks' && e.type === 'Warning'), TIMEOUT_MS);

  // the user accepts losing the disk: the next pass moves the VM
  await store.guaranteedUpdate(vmKey(NS, 'keep'), (cur) => {
    (cur.spec as { disks: { ephemeral?: boolean }[] }).disks[0].ephemeral = true;
    return cur;
  });
  await runningElsewhere('keep', home);
});
