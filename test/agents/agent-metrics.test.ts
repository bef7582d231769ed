/**
 * The agent's Prometheus endpoint, against a real Cassandra node and libvirt's test driver:
 * /metrics served over HTTP by an agent process in this test (values move as the agent works),
 * and by the stratus-agent binary started with --metrics-port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import type { AgentProcess } from '../../agents/agent-process';
import { writeTestHost } from '../../libvirt';
import { MetricsServer } from '../../agents/metrics/server';
import type { TestStore } from '../helpers/store';
import { startTestAgent, testLogger, type TestAgent } from '../helpers/agent';
import { sampleValue } from '../helpers/prometheus';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'hv-metrics';
let t: TestStore;
let dir: string;
let proc: AgentProcess;
let ta: TestAgent;
let ac: AbortController;
let serving: Promise<void>;
let base: string;

const logger = testLogger;

beforeAll(async () => {
  const registry = new Registry();
  ta = await startTestAgent({
    name: 'agent_metrics', registry,
    hosts: async (d) => [{ name: HOST, libvirtUri: await writeTestHost(join(d, 'host.xml'), { cpus: 4, memoryKiB: 8 * 1024 * 1024 }) }],
  });
  ({ t, dir, proc } = ta);
  const server = new MetricsServer({ registry, host: '127.0.0.1', port: 0, notReady: () => proc.notReady(), logger });
  ac = new AbortController();
  serving = server.start(ac.signal);
  base = `http://127.0.0.1:${await server.listening}`;
});

afterAll(async () => {
  ac?.abort();
  await serving?.catch(() => undefined);
  await ta?.stop();
});

async function scrape(url = base): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

test('/metrics reports the lease as held, the libvirt calls made so far and no managed domain; /healthz and /readyz answer 200', async () => {
  const text = await scrape();
  expect(sampleValue(text, 'stratus_agent_lease_state', { host: HOST, state: 'held' })).toBe(1);
  expect(sampleValue(text, 'stratus_agent_lease_state', { host: HOST, state: 'fenced' })).toBe(0);
  expect(sampleValue(text, 'stratus_agent_libvirt_calls_total', { function: 'virConnectOpen' })).toBe(1);
  expect(sampleValue(text, 'stratus_agent_domains', { host: HOST })).toBe(0);
  expect(sampleValue(text, 'stratus_agent_status_queue_depth', { host: HOST })).toBe(0);
  expect(sampleValue(text, 'stratus_agent_fences_total', { host: HOST })).toBe(0);
  expect(sampleValue(text, 'stratus_agent_libvirt_connected', { host: HOST })).toBe(1);
  expect(sampleValue(text, 'stratus_agent_libvirt_reconnects_total', { host: HOST })).toBe(0);
  expect(sampleValue(text, 'stratus_agent_volumes', { host: HOST, phase: 'Available' })).toBe(0);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const readyz = await fetch(`${base}/readyz`);
  expect([readyz.status, await readyz.text()]).toEqual([200, 'ok']);
  expect((await fetch(`${base}/nothing`)).status).toBe(404);
});

test('binding a VM raises the define and start counters, the reconcile count and the managed domains; its Volume is counted', async () => {
  const before = await scrape();
  const count = (text: string, fn: string) => sampleValue(text, 'stratus_agent_libvirt_calls_total', { function: fn }) ?? 0;
  const reconciles = (text: string) => sampleValue(text, 'stratus_controller_reconcile_total', { controller: `vm@${HOST}`, result: 'success' }) ?? 0;
  await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'm-data', namespace: 'demo' }, spec: { size: '1Gi' } });
  await t.store.create({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'm-1', namespace: 'demo' },
    spec: { cpu: 1, memory: '512Mi', disks: [{ name: 'data', volume: 'm-data' }] }, status: { host: HOST, phase: 'Scheduled' },
  });
  await until('Running', async () => (await t.store.get(vmKey('demo', 'm-1')))?.status?.phase === 'Running');
  const after = await until('the domain counted', async () => {
    const text = await scrape();
    return sampleValue(text, 'stratus_agent_domains', { host: HOST }) === 1 && sampleValue(text, 'stratus_agent_volumes', { host: HOST, phase: 'InUse' }) === 1 ? text : undefined;
  });
  expect(count(after, 'virDomainDefineXMLFlags')).toBe(count(before, 'virDomainDefineXMLFlags') + 1);
  expect(count(after, 'virDomainCreateWithFlags')).toBe(count(before, 'virDomainCreateWithFlags') + 1);
  expect(reconciles(after)).toBeGreaterThan(reconciles(before));
  expect(sampleValue(after, 'stratus_controller_reconcile_total', { controller: `volume@${HOST}`, result: 'success' })).toBeGreaterThan(0);
  expect(count(after, 'virStorageVolCreateXML')).toBeGreaterThan(count(before, 'virStorageVolCreateXML'));
  expect(sampleValue(after, 'stratus_controller_reconcile_duration_seconds_count', { controller: `vm@${HOST}` })).toBeGreaterThan(0);
  // A new VM is defined without a look-up (the agent knows the host's domain names).
  expect(count(after, 'virDomainLookupByName')).toBe(count(before, 'virDomainLookupByName'));
});

test('a failed libvirt call is counted by function and error code', async () => {
  const errors = (text: string) => sampleValue(text, 'stratus_agent_libvirt_call_errors_total', { function: 'virDomainLookupByName', code: 'VIR_ERR_NO_DOMAIN' }) ?? 0;
  const before = errors(await scrape());
  expect(await proc.agents[0].conn!.lookupDomainByName('demo.no-such-vm')).toBeUndefined();
  expect(errors(await scrape())).toBe(before + 1);
});

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

test('stratus-agent --metrics-port serves /metrics with the lease held (the binary, built into dist/)', async () => {
  const port = await freePort();
  const uri = await writeTestHost(join(dir, 'spawned.xml'), { cpus: 2, memoryKiB: 4 * 1024 * 1024 });
  const child: ChildProcess = spawn(process.execPath, [
    resolve(__dirname, '../../bin/stratus-agent.js'), '--host', 'hv-spawned', '--libvirt-uri', uri, '--keyspace', t.keyspace,
    '--state-dir', join(dir, 'spawned'), '--metrics-port', String(port), '--no-monitoring',
  ], { env: { ...process.env, STRATUS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const url = `http://127.0.0.1:${port}`;
    const text = await until(`the spawned agent's lease in /metrics (stderr: ${stderr})`, async () => {
      const body = await scrape(url);
      return sampleValue(body, 'stratus_agent_lease_state', { host: 'hv-spawned', state: 'held' }) === 1 ? body : undefined;
    }, 30_000);
    expect(sampleValue(text, 'stratus_agent_libvirt_calls_total', { function: 'virConnectOpen' })).toBeGreaterThanOrEqual(1);
    // the process metrics of prom-client are there too
    expect(sampleValue(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}, 60_000);
