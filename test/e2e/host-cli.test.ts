// `stratus host cordon|uncordon|drain` against the real API app.
import os from 'node:os';
import { Readable } from 'node:stream';
import { run } from '../../cli/main';
import { openTestApi, API, type TestApi } from '../helpers/api';

let api: TestApi;

beforeAll(async () => {
  api = await openTestApi('hostcli');
  await api.req.post(`${API}/hosts`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host', metadata: { name: 'hv-1' }, spec: {} }).expect(201);
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: {} }).expect(201);
}, 90000);
afterAll(async () => api.close());

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return run(['node', 'stratus', '--server', api.url, '--token', api.token, ...args], {
    stdout: { write: (s: string) => { out += s; return true; } } as never,
    stderr: { write: (s: string) => { err += s; return true; } } as never,
    stdin: Readable.from([]), env: {}, homedir: os.tmpdir(),
  }).then((code) => ({ code, out, err }));
}

const host = async () => (await api.req.get(`${API}/hosts/hv-1`).expect(200)).body;

test('cordon marks the host unschedulable and uncordon reverts it and ends a drain', async () => {
  expect((await cli(['host', 'cordon', 'hv-1'])).out).toBe('host.stratuslab.eu/hv-1 cordoned\n');
  expect((await host()).spec.unschedulable).toBe(true);
  await cli(['host', 'drain', 'hv-1', '--wait=false']);
  expect((await host()).metadata.annotations).toEqual({ 'stratuslab.eu/drain': 'true' });
  const u = await cli(['host', 'uncordon', 'hv-1']);
  expect(u.code).toBe(0);
  const h = await host();
  expect(h.spec.unschedulable).toBe(false);
  expect(h.metadata.annotations?.['stratuslab.eu/drain']).toBeUndefined();
});

test('drain waits for the VMs bound to the host and says how many are left when it times out', async () => {
  await api.req.post(`${API}/namespaces/demo/virtualmachines`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'pinned' }, spec: { cpu: 1, memory: '1Gi' } }).expect(201);
  await api.req.patch(`${API}/namespaces/demo/virtualmachines/pinned/status`).set('Content-Type', 'application/merge-patch+json').send({ status: { host: 'hv-1' } }).expect(200);
  const r = await cli(['host', 'drain', 'hv-1', '--timeout', '2s']);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/waiting for 1 VM\(s\) to move off hv-1: demo\/pinned/);
  expect(r.err).toMatch(/timed out draining host hv-1: 1 VM\(s\) still bound/);
  await api.req.patch(`${API}/namespaces/demo/virtualmachines/pinned/status`).set('Content-Type', 'application/merge-patch+json').send({ status: { host: null } }).expect(200);
  const done = await cli(['host', 'drain', 'hv-1']);
  expect(done.code).toBe(0);
  expect(done.out).toMatch(/host\.stratuslab\.eu\/hv-1 drained/);
  await cli(['host', 'cordon', 'nosuch']).then((x) => expect(x.code).toBe(1));
}, 30000);
