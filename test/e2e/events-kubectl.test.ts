// Events end to end with stock kubectl and the stratus CLI: a frontend process (HTTPS), a
// controller replica and an agent on libvirt's test driver (in this process, on the frontend's
// keyspace, each with its own event recorder). A VM placed by the scheduler and started by the
// agent shows its Scheduled and Started events in `kubectl get events`, `kubectl events --for`,
// `kubectl describe`, `stratus get events` and `stratus describe`.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import YAML from 'yaml';
import { AgentProcess } from '../../agents/agent-process';
import { LibvirtExecutor, writeTestHost } from '../../libvirt';
import { EventBroadcaster } from '../../runtime/events';
import { createCassandraClient, ObjectStore, type VirtualMachineObject } from '../../store';
import { EventRepository } from '../../store/events';
import { LeaseRepository } from '../../store/leases';
import { FAST_TIMINGS } from '../helpers/agent';
import { startFrontend, stratus, type Frontend } from '../helpers/frontend';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { cassandraContactPoints } from '../helpers/store';
import { until } from '../helpers/wait';

const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
const VM = 'ev-1';
const HOST = 'hv-ev';

let fe: Frontend;
let kubeconfig: string;
let cacheDir: string;
let env: Record<string, string>;
let dispatcher: Agent;
let client: ReturnType<typeof createCassandraClient>;
let store: ObjectStore;
let replicas: RunningReplicas;
let executor: LibvirtExecutor;
const stopAgent = new AbortController();
let agentDone: Promise<void>;

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });
}

async function api(method: string, p: string, body: unknown): Promise<any> {
  const r = await undiciFetch(`${fe.url}${p}`, {
    method, dispatcher, body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${fe.token}` },
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const recorder = (keyspace: string) => new EventBroadcaster({ sink: new EventRepository({ client, keyspace, feed: store.feed }), logger });

beforeAll(async () => {
  fe = await startFrontend('events', {}, { tls: true });
  dispatcher = new Agent({ connect: { ca: fs.readFileSync(fe.ca!) } });
  kubeconfig = path.join(fe.dir, 'kubeconfig');
  cacheDir = path.join(fe.dir, 'kube-cache');
  fs.writeFileSync(kubeconfig, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'stratus',
    clusters: [{ name: 'stratus', cluster: { server: fe.url, 'certificate-authority': fe.ca } }],
    users: [{ name: 'u', user: { token: fe.token } }],
    contexts: [{ name: 'stratus', context: { cluster: 'stratus', user: 'u', namespace: 'demo' } }],
  }));
  const config = path.join(fe.dir, 'config.yaml');
  fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: 'demo', ca: fe.ca }));
  env = { STRATUS_CONFIG: config, HOME: fe.dir };

  client = createCassandraClient({ contactPoints: cassandraContactPoints() });
  await client.connect();
  store = new ObjectStore({ client, keyspace: fe.keyspace, followerGraceMs: 300, followerOverlapMs: 500 });
  await store.init();
  // The controllers and the agent, as two processes would run them: each with its own recorder.
  replicas = await startReplicas(store, 1, { logger, events: recorder(fe.keyspace), informer: { pollIntervalMs: 100 } });
  executor = new LibvirtExecutor({ threads: 2 });
  const proc = new AgentProcess({
    store, leases: new LeaseRepository({ client, keyspace: fe.keyspace }), events: recorder(fe.keyspace),
    hosts: [{ name: HOST, libvirtUri: await writeTestHost(path.join(fe.dir, `${HOST}.xml`), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/hollow/ev' }] }) }],
    stateDir: path.join(fe.dir, 'agent'), executor, logger, pollIntervalMs: 100, workers: 2, timings: FAST_TIMINGS,
  });
  agentDone = proc.start(stopAgent.signal);
  await proc.ready();

  await api('POST', '/apis/stratuslab.eu/v1alpha1/projects', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: {} });
  await api('POST', '/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines', {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: VM }, spec: { cpu: 1, memory: '1Gi' },
  });
  await until('the VM to run on the agent\'s host', async () => {
    const vm = await store.get<VirtualMachineObject>({ kind: 'VirtualMachine', namespace: 'demo', name: VM });
    return vm?.status?.phase === 'Running' && vm.status.host === HOST;
  }, { timeoutMs: 30_000, everyMs: 200 });
  // both events written (the recorders write in the background)
  await until('the Scheduled and Started events', async () => {
    const rs = await client.execute(`SELECT body FROM ${fe.keyspace}.events`);
    const reasons = rs.rows.map((r) => JSON.parse(r['body']).reason);
    return reasons.includes('Scheduled') && reasons.includes('Started');
  }, { timeoutMs: 10_000 });
}, 120_000);

afterAll(async () => {
  stopAgent.abort();
  await agentDone?.catch(() => undefined);
  await replicas?.stop();
  await executor?.close();
  await client?.shutdown();
  await dispatcher?.close();
  await fe?.close();
}, 60_000);

test('kubectl get events lists the Scheduled and Started events of the VM', async () => {
  const r = await kubectl(['get', 'events']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n')[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
  expect(r.stdout).toMatch(new RegExp(`Normal\\s+Scheduled\\s+virtualmachine/${VM}\\s+Successfully assigned demo/${VM} to ${HOST}`));
  expect(r.stdout).toMatch(new RegExp(`Normal\\s+Started\\s+virtualmachine/${VM}\\s+started the domain demo\\.${VM} on host ${HOST}`));
  const json = await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${VM},reason=Scheduled`, '-o', 'json']);
  expect(JSON.parse(json.stdout).items.map((e: any) => e.source.component)).toEqual(['stratus-scheduler']);
  const all = await kubectl(['get', 'events', '-A', '-o', 'wide']);
  expect(all.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME$/);
  expect(all.stdout).toMatch(new RegExp(`^demo\\s+\\S+\\s+Normal\\s+Started\\s+virtualmachine/${VM}\\s+stratus-agent, ${HOST}\\s+started`, 'm'));
  // a Host's events are read across namespaces (as a Node's): describe asks and gets an answer
  const host = await kubectl(['describe', 'host', HOST]);
  expect(host.code).toBe(0);
  expect(host.stdout).toMatch(/^Events:/m);
}, 60_000);

test('kubectl events --for vm/NAME shows them', async () => {
  const r = await kubectl(['events', '--for', `vm/${VM}`]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
  const reasons = lines.slice(1).map((l) => l.split(/\s{2,}/)[2]);
  expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Created', 'Started']));
  if (process.env.STRATUS_TEST_LOG) process.stderr.write(r.stdout);
}, 60_000);

test('kubectl describe vm NAME ends with its Events', async () => {
  const r = await kubectl(['describe', 'vm', VM]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n\s+----\s+------\s+----\s+----\s+-------\n/);
  expect(r.stdout).toMatch(new RegExp(`Normal\\s+Scheduled\\s+\\S+\\s+stratus-scheduler\\s+Successfully assigned demo/${VM} to ${HOST}`));
  expect(r.stdout).toMatch(new RegExp(`Normal\\s+Started\\s+\\S+\\s+stratus-agent\\s+started the domain`));
}, 60_000);

test('stratus get events and stratus describe show them too', async () => {
  const g = await stratus(['get', 'events'], env);
  expect(g.code).toBe(0);
  expect(g.stdout).toMatch(new RegExp(`Normal\\s+Scheduled\\s+virtualmachine/${VM}`));
  const d = await stratus(['describe', 'vm', VM], env);
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(/Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/);
  expect(d.stdout).toMatch(new RegExp(`Normal\\s+Scheduled\\s+\\S+\\s+stratus-scheduler\\s+Successfully assigned demo/${VM} to ${HOST}`));
  expect(d.stdout).toMatch(new RegExp(`Normal\\s+Started\\s+\\S+\\s+stratus-agent, ${HOST}\\s+started the domain`));
}, 60_000);

test('kubectl events --for vm/NAME --watch shows the Stopped event when the VM is halted', async () => {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'events', '--for', `vm/${VM}`, '--watch', '--request-timeout=60s']);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  try {
    await until('the watch to print the current events', () => /Started/.test(out), { timeoutMs: 15_000, context: () => out });
    await undiciFetch(`${fe.url}/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/${VM}`, {
      method: 'PATCH', dispatcher, body: JSON.stringify({ spec: { runStrategy: 'Halted' } }),
      headers: { 'content-type': 'application/merge-patch+json', authorization: `Bearer ${fe.token}` },
    });
    await until('a Stopped line', () => new RegExp(`Normal\\s+Stopped\\s+VirtualMachine/${VM}\\s+runStrategy is Halted`).test(out), { timeoutMs: 30_000, context: () => out });
  } finally {
    child.kill();
  }
}, 60_000);
