// Monitoring and accounting through the API (metrics.stratuslab.eu) and `stratus top` / `stratus usage`,
// reading what agents write into Cassandra.
import os from 'node:os';
import { Readable } from 'node:stream';
import { MetricsStore } from '../../store/samples';
import { run } from '../../cli/main';
import { openTestApi, API, type TestApi } from '../helpers/api';

let api: TestApi;
let metrics: MetricsStore;
const BASE = '/apis/metrics.stratuslab.eu/v1alpha1';
const HOUR = 3_600_000;
const now = Date.now();
const thisHour = now - (now % HOUR);

beforeAll(async () => {
  api = await openTestApi('metrics');
  metrics = new MetricsStore({ client: api.client, keyspace: api.keyspace });
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: { members: [{ user: 'vera', role: 'viewer' }] } }).expect(201);
  await metrics.writeHostSample({ host: 'hv-1', ts: now, vms: 2, running: 1, cpus: 8, cpuCores: 2, memoryBytes: 16 * 2 ** 30, memoryUsedBytes: 4 * 2 ** 30, storageBytes: 100 * 2 ** 30, storageUsedBytes: 25 * 2 ** 30, diskReadBps: 1024, diskWriteBps: 2048, netRxBps: 10, netTxBps: 20 });
  await metrics.writeVmSample({ namespace: 'demo', name: 'web-1', uid: 'u1', host: 'hv-1', ts: now, state: 'running', vcpus: 2, cpuCores: 0.5, cpuTimeNs: 1e9, memoryBytes: 2 * 2 ** 30, diskReadBps: 0, diskWriteBps: 0, netRxBps: 0, netTxBps: 0 });
  await metrics.writeVmSample({ namespace: 'other', name: 'db-1', uid: 'u2', host: 'hv-1', ts: now, state: 'running', vcpus: 1, cpuCores: 0.1, cpuTimeNs: 1e8, memoryBytes: 1 * 2 ** 30, diskReadBps: 0, diskWriteBps: 0, netRxBps: 0, netTxBps: 0 });
  await metrics.writeUsage('hv-1', [
    { namespace: 'demo', name: 'web-1', uid: 'u1', hour: thisHour - HOUR, cpuSeconds: 100, memoryMiBSeconds: 2048 * 3600, diskGiBSeconds: 10 * 3600, runningSeconds: 3600 },
    { namespace: 'demo', name: 'web-1', uid: 'u1', hour: thisHour, cpuSeconds: 50, memoryMiBSeconds: 2048 * 1800, diskGiBSeconds: 10 * 1800, runningSeconds: 1800 },
  ], now);
}, 90000);
afterAll(async () => api.close());

function cli(args: string[], token = api.token): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return run(['node', 'stratus', '--server', api.url, '--token', token, ...args], {
    stdout: { write: (s: string) => { out += s; return true; } } as never,
    stderr: { write: (s: string) => { err += s; return true; } } as never,
    stdin: Readable.from([]), env: {}, homedir: os.tmpdir(),
  }).then((code) => ({ code, out, err }));
}

test('host and VM samples are served to administrators and shown by stratus top', async () => {
  const hosts = await api.req.get(`${BASE}/hosts`).expect(200);
  expect(hosts.body.items).toEqual([expect.objectContaining({ host: 'hv-1', cpus: 8, cpuCores: 2, running: 1 })]);
  const top = await cli(['top', 'hosts']);
  expect(top.code).toBe(0);
  expect(top.out).toMatch(/^HOST\s+RUNNING\/VMS\s+CPU\(cores\)\s+CPU%/);
  expect(top.out).toMatch(/^hv-1\s+1\/2\s+2\.00\s+25%\s+4\.0Gi\s+25%/m);
  const vms = await cli(['top', 'vms', '-A', '-o', 'json']);
  expect(JSON.parse(vms.out).items.map((v: any) => `${v.namespace}/${v.name}`).sort()).toEqual(['demo/web-1', 'other/db-1']);
});

test('a project viewer sees the VMs of their project only, not hosts', async () => {
  const vera = await api.tokenFor('vera');
  const own = await api.as(vera).get(`${BASE}/namespaces/demo/virtualmachines`).expect(200);
  expect(own.body.items.map((v: any) => v.name)).toEqual(['web-1']);
  await api.as(vera).get(`${BASE}/namespaces/other/virtualmachines`).expect(403);
  await api.as(vera).get(`${BASE}/hosts`).expect(403);
  await api.anon.get(`${BASE}/hosts`).expect(401);
});

test('usage sums the hourly records per VM, or lists them per hour, and stratus usage prints them', async () => {
  const from = new Date(thisHour - 2 * HOUR).toISOString();
  const byVm = await api.req.get(`${BASE}/namespaces/demo/usage?from=${from}`).expect(200);
  expect(byVm.body.items).toEqual([expect.objectContaining({ name: 'web-1', cpuSeconds: 150, runningSeconds: 5400 })]);
  const byHour = await api.req.get(`${BASE}/namespaces/demo/usage?from=${from}&groupBy=hour`).expect(200);
  expect(byHour.body.items).toHaveLength(2);
  const out = await cli(['usage', '--project', 'demo', '--from', '3h']);
  expect(out.code).toBe(0);
  expect(out.out).toMatch(/^web-1\s+150\s+11059200\s+54000\s+5400$/m);
  await api.req.get(`${BASE}/namespaces/demo/usage?from=yesterday`).expect(400);
  await api.req.get(`${BASE}/namespaces/demo/usage?groupBy=week`).expect(400);
});
