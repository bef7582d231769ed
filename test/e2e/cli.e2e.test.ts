// The `stratus` CLI as a spawned process against a running frontend process and real Cassandra.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO, freePort, startFrontend, stratus, type Frontend } from '../helpers/frontend';

let fe: Frontend;
let env: Record<string, string>;

beforeAll(async () => {
  fe = await startFrontend('cli');
  const config = path.join(fe.dir, 'config.yaml');
  fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: 'demo', token: fe.token }));
  env = { STRATUS_CONFIG: config, HOME: fe.dir };
}, 90000);
afterAll(async () => fe.close());

const examples = path.join(REPO, 'examples');

test('apply -f examples/ creates every object, and a second apply reports them all unchanged', async () => {
  const first = await stratus(['apply', '-f', examples], env);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/^project\.stratuslab\.eu\/demo created$/m);
  expect(first.stdout).toMatch(/^virtualmachine\.stratuslab\.eu\/web-1 created$/m);
  const lines = first.stdout.trim().split('\n');
  const second = await stratus(['apply', '-f', examples], env);
  expect(second.code).toBe(0);
  expect(second.stdout.trim().split('\n')).toEqual(lines.map((l) => l.replace(/created$/, 'unchanged')));
}, 60000);

test('get prints a table, -o yaml the objects, -l filters, and a missing object exits 1 with a kubectl-style line', async () => {
  const table = await stratus(['get', 'vm'], env);
  expect(table.code).toBe(0);
  expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+PHASE/);
  expect(table.stdout).toMatch(/^web-1\s/m);
  const yaml = await stratus(['get', 'vm', '-o', 'yaml'], env);
  const list = YAML.parse(yaml.stdout);
  expect(list.kind).toBe('List');
  expect(list.items.map((o: any) => o.metadata.name)).toContain('web-1');
  const web = await stratus(['get', 'vm', '-l', 'app=web', '-o', 'json'], env);
  expect(JSON.parse(web.stdout).items.every((o: any) => o.metadata.labels.app === 'web')).toBe(true);
  const missing = await stratus(['get', 'vm', 'nosuch'], env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/Error from server \(NotFound\): virtualmachines\.stratuslab\.eu "nosuch" not found/);
  const badKind = await stratus(['get', 'widgets'], env);
  expect(badKind.code).toBe(2);
  expect(badKind.stderr).toMatch(/doesn't have a resource type "widgets"/);
}, 60000);

test('describe shows the object; diff exits 0 when unchanged and 1 with a diff when the file differs', async () => {
  const d = await stratus(['describe', 'vm', 'web-1'], env);
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(/Name:\s+web-1/);
  const same = await stratus(['diff', '-f', path.join(examples, 'vm.yaml')], env);
  expect(same.code).toBe(0);
  const changed = path.join(fe.dir, 'vm-changed.yaml');
  fs.writeFileSync(changed, fs.readFileSync(path.join(examples, 'vm.yaml'), 'utf8').replace('cpu: 2', 'cpu: 3'));
  const diff = await stratus(['diff', '-f', changed], env);
  expect(diff.code).toBe(1);
  expect(diff.stdout).toMatch(/^-\s+cpu: 2$/m);
  expect(diff.stdout).toMatch(/^\+\s+cpu: 3$/m);
}, 60000);

test('wait --for=condition=Ready returns once status says so, and times out with exit 1 otherwise', async () => {
  const timeout = await stratus(['wait', 'vm/web-1', '--for=condition=Ready', '--timeout=2s'], env);
  expect(timeout.code).toBe(1);
  expect(timeout.stderr).toMatch(/timed out waiting for the condition/);
  const waiting = stratus(['wait', 'vm/web-1', '--for=condition=Ready', '--timeout=30s'], env);
  await new Promise((r) => setTimeout(r, 1000));
  const auth = { authorization: `Bearer ${fe.token}` };
  const cur: any = await (await fetch(`${fe.url}/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1`, { headers: auth })).json();
  const res = await fetch(`${fe.url}/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines/web-1/status`, {
    method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json', ...auth },
    body: JSON.stringify({ status: { phase: 'Running', observedGeneration: cur.metadata.generation, conditions: [{ type: 'Ready', status: 'True', reason: 'DomainRunning', message: 'ok', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z/, 'Z') }] } }),
  });
  expect(res.status).toBe(200);
  const done = await waiting;
  expect(done.stderr).toBe('');
  expect(done.code).toBe(0);
  expect(done.stdout).toMatch(/virtualmachine\.stratuslab\.eu\/web-1 condition met/);
}, 60000);

test('bad manifests give a readable error line and exit 1, and nothing is written', async () => {
  const bad = path.join(fe.dir, 'bad.yaml');
  fs.writeFileSync(bad, 'apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: bad-1, namespace: demo}\nspec: {cpu: 1, memory: 1Gi, bogus: true}\n');
  const r = await stratus(['apply', '-f', bad], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/spec\.bogus/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  fs.writeFileSync(bad, 'metadata: {name: [unclosed\n');
  const y = await stratus(['apply', '-f', bad], env);
  expect(y.code).toBe(1);
  expect(y.stderr).toMatch(/bad\.yaml/);
  const get = await stratus(['get', 'vm', 'bad-1'], env);
  expect(get.code).toBe(1);
}, 60000);

test('the CLI fails over to the next server when the first refuses connections', async () => {
  const deadPort = await freePort();
  const r = await stratus(['get', 'vm', 'web-1', '-o', 'name', '--server', `http://127.0.0.1:${deadPort},${fe.url}`], env);
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe('virtualmachine.stratuslab.eu/web-1');
  const none = await stratus(['get', 'vm', '--server', `http://127.0.0.1:${deadPort}`], env);
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/^error: /m);
}, 60000);

test('get -w prints changes as they happen; delete --wait removes the object', async () => {
  const watch = stratus(['get', 'vm', '-w', '--timeout=8s', '-o', 'name'], env);
  await new Promise((r) => setTimeout(r, 1500));
  const del = await stratus(['delete', 'vm', 'shop-web-2', '--timeout=20s'], env);
  expect(del.code).toBe(0);
  expect(del.stdout).toMatch(/virtualmachine\.stratuslab\.eu "shop-web-2" deleted/);
  const w = await watch;
  expect(w.stdout).toMatch(/shop-web-2/);
  const gone = await stratus(['get', 'vm', 'shop-web-2'], env);
  expect(gone.code).toBe(1);
}, 60000);
