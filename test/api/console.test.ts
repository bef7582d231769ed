// VM consoles and console logs through the API, on the test driver: the real Koa app and a real
// agent (a hollow host) with its console server, on one keyspace. Authorization by project role
// (a viewer may read the log, never open the console), 409 for a VM that does not run, the
// frontend's token accepted by the agent, every bad token refused by the agent itself, and the
// log read, tailed and followed through the frontend. (The real serial console: test/e2e/agent-vm.)
import fs from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { writeTestHost } from '../../libvirt';
import { mintConsoleToken } from '../../kube/console-token';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { openConsole, ConsoleRefused } from '../helpers/console';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'hv-console';
let api: TestApi;
let agent: TestAgent;
let viewer: string;
let editor: string;
let agentUrl: string;

const vm = (name: string, runStrategy = 'Always') => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' }, spec: { runStrategy, cpu: 1, memory: '64Mi' },
});

async function bind(name: string): Promise<void> {
  await api.store.guaranteedUpdate(vmKey('demo', name), (cur) => {
    cur.status = { ...(cur.status ?? {}), host: HOST, phase: 'Scheduled' };
    return cur;
  }, { status: true });
}

async function phaseOf(name: string): Promise<string | undefined> {
  return ((await api.store.get(vmKey('demo', name)))?.status as { phase?: string } | undefined)?.phase;
}

/** A raw GET to the agent's console server. */
function agentGet(path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(`${agentUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  api = await openTestApi('console');
  agent = await startTestAgent({
    name: 'console', shared: api,
    hosts: async (dir) => [{ name: HOST, libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024 }) }],
    console: { address: '127.0.0.1', port: 0, key: api.consoleKey, followPollMs: 50 },
  });
  viewer = await api.tokenFor('vera');
  editor = await api.tokenFor('ed');
  await api.req.post(`${API}/projects`).send({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' },
    spec: { members: [{ user: 'vera', role: 'viewer' }, { user: 'ed', role: 'editor' }] },
  }).expect(201);
  for (const name of ['web', 'idle']) await api.req.post(`${API}/namespaces/demo/virtualmachines`).send(vm(name)).expect(201);
  await bind('web');
  await until('web to run', async () => (await phaseOf('web')) === 'Running', { timeoutMs: 20_000 });
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await api?.close();
});

test('the Host advertises where its agent serves consoles', async () => {
  const port = agent.proc.consoleServer!.endpoint!.port;
  agentUrl = `http://127.0.0.1:${port}`;
  const host = await until('the endpoint in the Host status', async () => {
    const h = await api.store.get({ kind: 'Host', namespace: '', name: HOST });
    return (h?.status as any)?.daemonEndpoints ? h : undefined;
  }, { timeoutMs: 10_000 });
  expect((host.status as any).daemonEndpoints).toEqual({ console: { address: '127.0.0.1', port } });
  expect(port).toBeGreaterThan(0);
});

test('a viewer may not open the console (403) but may read the log; nothing is written', async () => {
  const before = (await api.store.get(vmKey('demo', 'web')))!.metadata.resourceVersion;
  const refused = await openConsole(api, 'demo', 'web', { token: viewer }).then(() => undefined, (e) => e);
  expect(refused).toBeInstanceOf(ConsoleRefused);
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
  expect(refused.body.message).toBe('virtualmachines.stratuslab.eu "web" is forbidden: User "vera" cannot create resource "virtualmachines/console" in API group "stratuslab.eu" in the namespace "demo"');
  const vnc = await openConsole(api, 'demo', 'web', { token: viewer, sub: 'vnc' }).then(() => undefined, (e) => e);
  expect(vnc.status).toBe(403);
  await api.as(viewer).get(`${API}/namespaces/demo/virtualmachines/web/log`).expect(200);
  expect((await api.store.get(vmKey('demo', 'web')))!.metadata.resourceVersion).toBe(before);
  // Outsiders see neither.
  const stranger = await api.tokenFor('stranger');
  await api.as(stranger).get(`${API}/namespaces/demo/virtualmachines/web/log`).expect(403);
});

test('a VM that does not run gets a 409 that says so; an unknown VM a 404; nothing is written', async () => {
  const before = (await api.store.get(vmKey('demo', 'idle')))!.metadata.resourceVersion;
  const refused = await openConsole(api, 'demo', 'idle', { token: editor }).then(() => undefined, (e) => e);
  expect(refused.status).toBe(409);
  expect(refused.body).toMatchObject({ reason: 'Conflict', message: 'virtualmachines.stratuslab.eu "idle" is not running (phase Pending): its console opens once it runs' });
  const log = await api.req.get(`${API}/namespaces/demo/virtualmachines/idle/log`).expect(409);
  expect(log.body.message).toMatch(/has no console log yet: it has not been placed on a host/);
  expect((await api.store.get(vmKey('demo', 'idle')))!.metadata.resourceVersion).toBe(before);
  const missing = await openConsole(api, 'demo', 'nope').then(() => undefined, (e) => e);
  expect(missing.status).toBe(404);
  // VNC needs spec.console.type vnc.
  const vnc = await openConsole(api, 'demo', 'web', { token: editor, sub: 'vnc' }).then(() => undefined, (e) => e);
  expect(vnc.status).toBe(409);
  expect(vnc.body.message).toMatch(/has no VNC display: set spec.console.type to vnc/);
});

test('the console is a websocket: a plain GET is a 400; through the frontend, the agent accepts its token and answers for the test driver', async () => {
  const plain = await api.as(editor).get(`${API}/namespaces/demo/virtualmachines/web/console`).expect(400);
  expect(plain.body.message).toMatch(/is a websocket/);
  // The test driver has no character devices: the agent itself says so (its 409 comes back as is).
  const refused = await openConsole(api, 'demo', 'web', { token: editor }).then(() => undefined, (e) => e);
  expect(refused).toBeInstanceOf(ConsoleRefused);
  expect(refused.status).toBe(409);
  expect(refused.body.message).toBe(`virtualmachine demo/web has no interactive serial console on host ${HOST} (libvirt's test driver has no character devices)`);
});

test('the console log through the frontend: all of it, its tail, and followed as the guest writes', async () => {
  const status = (await api.store.get(vmKey('demo', 'web')))!.status as { consoleLog: string };
  // Nothing writes a test-driver domain's console: the test plays the guest.
  fs.writeFileSync(status.consoleLog, 'boot 1\nboot 2\nlogin: \n');
  const all = await api.as(viewer).get(`${API}/namespaces/demo/virtualmachines/web/log`).buffer(true).parse((res, cb) => {
    let s = '';
    res.on('data', (c: Buffer) => (s += c));
    res.on('end', () => cb(null, s));
  }).expect(200);
  expect(all.headers['content-type']).toBe('text/plain; charset=utf-8');
  expect(all.body).toBe('boot 1\nboot 2\nlogin: \n');
  const tail = await api.req.get(`${API}/namespaces/demo/virtualmachines/web/log?tailLines=1`).buffer(true).parse((res, cb) => {
    let s = '';
    res.on('data', (c: Buffer) => (s += c));
    res.on('end', () => cb(null, s));
  }).expect(200);
  expect(tail.body).toBe('login: \n');
  const bad = await api.req.get(`${API}/namespaces/demo/virtualmachines/web/log?tailLines=-3`).expect(400);
  expect(bad.body.message).toBe('tailLines: Invalid value: "-3": must be a non-negative integer');

  // follow: what is appended arrives on the open stream.
  const got = await new Promise<string>((resolve, reject) => {
    let s = '';
    const req = http.get(`${api.url}${API}/namespaces/demo/virtualmachines/web/log?tailLines=1&follow=true`, { headers: api.auth }, (res) => {
      expect(res.statusCode).toBe(200);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        s += c;
        if (s === 'login: \n') fs.appendFileSync(status.consoleLog, 'root logged in\n');
        if (s.includes('root logged in\n')) {
          clearTimeout(timer);
          req.destroy();
          resolve(s);
        }
      });
    });
    req.on('error', reject);
    const timer = setTimeout(() => reject(new Error(`no follow within 10 s: ${JSON.stringify(s)}`)), 10_000);
  });
  expect(got).toBe('login: \nroot logged in\n');
});

test('the agent checks every token itself: missing, forged, expired, for another host, VM or channel', async () => {
  const web = (await api.store.get(vmKey('demo', 'web')))!;
  const path = '/v1/namespaces/demo/virtualmachines/web/log';
  const grant = { host: HOST, namespace: 'demo', name: 'web', uid: web.metadata.uid!, channel: 'log' as const };
  const now = Math.floor(Date.now() / 1000);
  expect((await agentGet(path, await mintConsoleToken(api.consoleKey, grant))).status).toBe(200);
  expect((await agentGet(path)).status).toBe(401);
  expect((await agentGet(path, 'garbage')).status).toBe(401);
  expect((await agentGet(path, await mintConsoleToken(Buffer.alloc(32, 7), grant))).status).toBe(401);
  const expired = await agentGet(path, await mintConsoleToken(api.consoleKey, grant, { nowSec: now - 120, ttlSec: 30 }));
  expect(expired.status).toBe(401);
  expect(JSON.parse(expired.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: 'the console token has expired' });
  expect((await agentGet(path, await mintConsoleToken(api.consoleKey, { ...grant, host: 'hv-other' }))).status).toBe(403);
  expect((await agentGet(path, await mintConsoleToken(api.consoleKey, { ...grant, channel: 'serial' }))).status).toBe(403);
  expect((await agentGet('/v1/namespaces/demo/virtualmachines/idle/log', await mintConsoleToken(api.consoleKey, grant))).status).toBe(403);
  // A token for an earlier VM of the same name (another uid) opens nothing.
  expect((await agentGet(path, await mintConsoleToken(api.consoleKey, { ...grant, uid: 'another-uid' }))).status).toBe(404);
});

test('discovery lists the console subresources as Kubernetes lists pods/exec and pods/log', async () => {
  const r = await api.req.get(API).expect(200);
  const byName = new Map((r.body.resources as { name: string; verbs: string[] }[]).map((x) => [x.name, x.verbs]));
  expect(byName.get('virtualmachines/console')).toEqual(['create', 'get']);
  expect(byName.get('virtualmachines/vnc')).toEqual(['create', 'get']);
  expect(byName.get('virtualmachines/log')).toEqual(['get']);
});
