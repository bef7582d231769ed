// Failover with the default timings (config/failover.ts: T_fence 10 s, T_resched 20 s, NotReady
// 8 s) and a real agent PROCESS (test/helpers/failover-agent.ts, hollow hosts): frozen with
// SIGSTOP past T_fence, its VM is rescheduled to another agent; resumed with SIGCONT, it fences
// before it shows anything (GET /debug/domains never lists the moved VM's domain as running),
// removes the stale domain, and never writes the VM now bound elsewhere. Killed with SIGKILL, its
// VM runs elsewhere; the time from the kill to Running elsewhere is printed (not asserted: the
// machine is shared).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { DebugDomainsReport } from '../../agents/host/debug-domains';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../../store';
import { conditionOf, vmKey, vmObject } from '../helpers/fixtures';
import { startHollowAgents, type HollowAgents } from '../helpers/hollow-agents';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { cassandraContactPoints, openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';
import type { FailoverAgentArgs } from '../helpers/failover-agent';

jest.setTimeout(240_000);

const REPO = resolve(__dirname, '../..');
const CHILD = join(REPO, 'dist/test/helpers/failover-agent.js');
const NS = 'ff';
const OLD = 'fa-0000';
const NEW = 'fb-0000';
const LONG = 60_000;

let t: TestStore;
let store: ObjectStore;
let dir: string;
let replicas: RunningReplicas | undefined;
let others: HollowAgents | undefined;
let child: ChildProcess | undefined;
let port = 0;

/** Starts the agent process of host fa-0000 and resolves with the port of its /debug/domains. */
async function startChildAgent(): Promise<void> {
  if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: run \`npm run build\` first`);
  const args: FailoverAgentArgs = { contactPoints: cassandraContactPoints(), keyspace: t.keyspace, prefix: 'fa', count: 1, stateDir: join(dir, 'fa'), timings: { resyncMs: 5000 } };
  child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((res, rej) => {
    createInterface({ input: child!.stdout! }).once('line', res);
    child!.once('exit', (code) => rej(new Error(`the agent process exited with ${code}`)));
  });
  port = (JSON.parse(first) as { port: number }).port;
}

async function scan(): Promise<DebugDomainsReport> {
  const r = await fetch(`http://127.0.0.1:${port}/debug/domains`, { signal: AbortSignal.timeout(5000) });
  if (r.status !== 200) throw new Error(`/debug/domains answered ${r.status}`);
  return (await r.json()) as DebugDomainsReport;
}

/** The state of VM `uid`'s domain on the child's host, or undefined when it has none. */
const stateOn = (rep: DebugDomainsReport, uid: string): string | undefined => rep.hosts.find((h) => h.host === OLD)?.domains.find((d) => d.uid === uid)?.state;

const getVm = (name: string) => store.get<VirtualMachineObject>(vmKey(NS, name));
const hostKey = (name: string) => ({ kind: 'Host', namespace: '', name });
const runningOn = async (name: string, host: string) => {
  const vm = await getVm(name);
  return vm?.status?.host === host && vm.status.phase === 'Running' ? vm : undefined;
};
const hostReady = async (name: string) => conditionOf(await store.get(hostKey(name)), 'Ready')?.status === 'True';
const setUnschedulable = (name: string, on: boolean) => store.guaranteedUpdate<HostObject>(hostKey(name), (h) => {
  h.spec = { ...(h.spec ?? {}), unschedulable: on };
  return h;
});

beforeAll(async () => {
  t = await openTestStore('fencing_freeze', { followerGraceMs: 200 });
  store = t.store;
  dir = await mkdtemp(join(tmpdir(), 'stratus-freeze-'));
  // The controllers with their defaults: the timings under test.
  replicas = await startReplicas(store, 1, { audit: { periodMs: 60_000 } });
  await startChildAgent();
  await until(`host ${OLD} Ready`, () => hostReady(OLD), LONG);
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await others?.stop();
  await replicas?.stop();
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

test('an agent frozen past T_fence: its VM runs elsewhere; resumed, it never shows the VM running, removes its domain and never writes the VM', async () => {
  await store.create(vmObject(NS, 'frz'));
  const placed = await until(`frz Running on ${OLD}`, () => runningOn('frz', OLD), LONG);
  const uid = placed.metadata.uid!;
  await until('the domain of frz running in the agent process', async () => stateOn(await scan(), uid) === 'running', LONG);

  // The second agent comes only now, so that the VM was placed on the first.
  others = await startHollowAgents({ keyspace: t.keyspace, prefix: 'fb', count: 1, dir: join(dir, 'fb'), timings: { resyncMs: 5000 } });
  await until(`host ${NEW} Ready`, () => hostReady(NEW), LONG);

  child!.kill('SIGSTOP');
  await until(`frz Running on ${NEW} while ${OLD} is frozen`, () => runningOn('frz', NEW), LONG);
  await until(`the domain of frz running on ${NEW}`, () => others!.ledger.runs(`${NS}/frz`).some((r) => r.host === NEW && r.stop === undefined), LONG);

  // Resume, and watch both what the resumed agent shows and the VM object.
  child!.kill('SIGCONT');
  const states: (string | undefined)[] = [];
  const versions: VirtualMachineObject[] = [];
  let watching = true;
  const watchVm = (async () => {
    while (watching) {
      const v = await getVm('frz');
      if (v) versions.push(v);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // From the moment it answers: the stale domain is never running, and it goes away.
  await until(`${OLD} removed the stale domain of frz`, async () => {
    const st = stateOn(await scan(), uid);
    states.push(st);
    return st === undefined;
  }, { timeoutMs: LONG, everyMs: 20 });
  // A few more seconds: the resumed agent holds its lease again and must not start the VM.
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    states.push(stateOn(await scan(), uid));
    await new Promise((r) => setTimeout(r, 50));
  }
  watching = false;
  await watchVm;

  expect(states.length).toBeGreaterThan(0);
  expect(states.filter((s) => s === 'running')).toEqual([]);
  expect(states.at(-1)).toBeUndefined();
  // The VM stayed bound to the new host, and the stale agent never wrote it.
  expect(versions.length).toBeGreaterThan(0);
  expect(versions.filter((v) => v.status?.host !== NEW)).toEqual([]);
  expect(others!.ledger.overlaps()).toEqual([]);
  expect((await getVm('frz'))?.status?.host).toBe(NEW);
  // The resumed agent holds its lease again.
  await until(`${OLD} holds its lease again`, async () => (await scan()).hosts.find((h) => h.host === OLD)?.lease === 'held', LONG);
});

test('an agent killed with SIGKILL: its VM runs elsewhere (the time is reported)', async () => {
  await until(`host ${OLD} Ready again`, () => hostReady(OLD), LONG);
  await setUnschedulable(NEW, true);
  await store.create(vmObject(NS, 'kil'));
  await until(`kil Running on ${OLD}`, () => runningOn('kil', OLD), LONG);
  await until('the domain of kil running in the agent process', async () => stateOn(await scan(), (await getVm('kil'))!.metadata.uid!) === 'running', LONG);
  await setUnschedulable(NEW, false);

  const killedAt = Date.now();
  child!.kill('SIGKILL');
  await until(`kil Running on ${NEW}`, () => runningOn('kil', NEW), LONG);
  await until(`the domain of kil running on ${NEW}`, () => others!.ledger.runs(`${NS}/kil`).some((r) => r.host === NEW && r.stop === undefined), LONG);
  const seconds = (Date.now() - killedAt) / 1000;
  process.stderr.write(`fencing-freeze: kill -9 of the agent → VM Running elsewhere in ${seconds.toFixed(1)} s (default timings)\n`);
  expect(others!.ledger.overlaps()).toEqual([]);
});
