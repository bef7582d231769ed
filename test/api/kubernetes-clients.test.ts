// Stock Kubernetes clients against a real frontend over HTTPS: kubectl itself, and an informer
// from @kubernetes/client-node (run as its own process, since that library is ESM-only).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import YAML from 'yaml';
import { REPO, startFrontend, type Frontend } from '../helpers/frontend';
import { until } from '../helpers/wait';

let fe: Frontend;
let kubeconfig: string;
let cacheDir: string;
let dispatcher: Agent;
const NS_PATH = '/apis/stratuslab.eu/v1alpha1/namespaces/demo/virtualmachines';

function kubectl(args: string[], timeoutMs = 60000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });
}

async function api(method: string, p: string, body?: unknown, type = 'application/merge-patch+json'): Promise<any> {
  const r = await undiciFetch(`${fe.url}${p}`, {
    method, dispatcher, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': type, authorization: `Bearer ${fe.token}` },
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}

beforeAll(async () => {
  fe = await startFrontend('kubectl', {}, { tls: true });
  dispatcher = new Agent({ connect: { ca: fs.readFileSync(fe.ca!) } });
  kubeconfig = path.join(fe.dir, 'kubeconfig');
  cacheDir = path.join(fe.dir, 'kube-cache');
  fs.writeFileSync(kubeconfig, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'stratus',
    clusters: [{ name: 'stratus', cluster: { server: fe.url, 'certificate-authority': fe.ca } }],
    users: [{ name: 'u', user: { token: fe.token } }],
    contexts: [{ name: 'stratus', context: { cluster: 'stratus', user: 'u', namespace: 'demo' } }],
  }));
}, 90000);
afterAll(async () => {
  await dispatcher?.close();
  await fe.close();
});

describe('kubectl', () => {
  test('api-resources and explain read discovery and the OpenAPI documents', async () => {
    const r = await kubectl(['api-resources', '--api-group=stratuslab.eu']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^virtualmachines\s+vm,vms\s+stratuslab\.eu\/v1alpha1\s+true\s+VirtualMachine$/m);
    const e = await kubectl(['explain', 'virtualmachine.spec']);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/runStrategy/);
  });

  test('client-side apply of a directory, twice: created, then unchanged', async () => {
    const p = await kubectl(['apply', '-f', path.join(REPO, 'examples/project.yaml')]);
    expect(p.stdout).toMatch(/project\.stratuslab\.eu\/demo created/);
    const first = await kubectl(['apply', '-R', '-f', path.join(REPO, 'examples')]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/virtualmachine\.stratuslab\.eu\/web-1 created/);
    const second = await kubectl(['apply', '-R', '-f', path.join(REPO, 'examples')]);
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n').filter((l) => !l.endsWith(' unchanged'))).toEqual([]);
  }, 90000);

  test('server-side apply twice changes nothing the second time', async () => {
    const dir = path.join(REPO, 'examples/app');
    const first = await kubectl(['apply', '--server-side', '-f', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/virtualmachine\.stratuslab\.eu\/shop-web-1 serverside-applied/);
    const before = await api('GET', `${NS_PATH}/shop-web-1`);
    const second = await kubectl(['apply', '--server-side', '-f', dir]);
    expect(second.code).toBe(0);
    const after = await api('GET', `${NS_PATH}/shop-web-1`);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  }, 60000);

  test('client-side apply, then apply --server-side with a field changed: no conflict, kubectl takes over, the annotation follows', async () => {
    const LAST = 'kubectl.kubernetes.io/last-applied-configuration';
    await kubectl(['apply', '-f', path.join(REPO, 'examples/project.yaml')]);
    const file = path.join(fe.dir, 'upgrade.yaml');
    const manifest = (name: string, cpu: number, memory: string) => {
      fs.writeFileSync(file, `apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: ${name}, namespace: demo, labels: {app: csa}}\nspec: {cpu: ${cpu}, memory: ${memory}}\n`);
    };
    manifest('csa-1', 1, '1Gi');
    expect((await kubectl(['apply', '-f', file])).stdout).toMatch(/virtualmachine\.stratuslab\.eu\/csa-1 created/);
    manifest('csa-1', 1, '2Gi');
    const ssa = await kubectl(['apply', '--server-side', '-f', file]);
    expect(ssa.stderr).toBe(''); // no conflict, and kubectl's own managedFields migration succeeded (it warns otherwise)
    expect(ssa.stdout).toMatch(/virtualmachine\.stratuslab\.eu\/csa-1 serverside-applied/);
    const live = await api('GET', `${NS_PATH}/csa-1`);
    expect(live.spec.memory).toBe('2Gi');
    // what kube-apiserver writes there: the applied manifest, encoded as Go encodes an unstructured object
    expect(live.metadata.annotations[LAST]).toBe(
      '{"apiVersion":"stratuslab.eu/v1alpha1","kind":"VirtualMachine","metadata":{"labels":{"app":"csa"},"name":"csa-1","namespace":"demo"},"spec":{"cpu":1,"memory":"2Gi"}}\n');
    const owners = live.metadata.managedFields.map((e: any) => `${e.manager}/${e.operation}`);
    expect(owners).toEqual(expect.arrayContaining(['kubectl/Apply', 'kubectl-last-applied/Apply']));
    expect(owners).not.toContain('kubectl-client-side-apply/Update');
    // a field changed by someone else since the client-side apply still conflicts, and only that one
    manifest('csa-2', 1, '1Gi');
    await kubectl(['apply', '-f', file]);
    expect((await kubectl(['patch', 'vm', 'csa-2', '--type=merge', '-p', '{"spec":{"cpu":3}}'])).code).toBe(0);
    manifest('csa-2', 2, '2Gi');
    const conflict = await kubectl(['apply', '--server-side', '-f', file]);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/Apply failed with 1 conflict: conflict with "kubectl-patch" using stratuslab\.eu\/v1alpha1: \.spec\.cpu/);
    expect((await api('GET', `${NS_PATH}/csa-2`)).spec).toMatchObject({ cpu: 3, memory: '1Gi' });
  }, 90000);

  test('get prints Table columns, -o wide more of them, describe and diff work', async () => {
    const g = await kubectl(['get', 'vm']);
    expect(g.code).toBe(0);
    expect(g.stdout.split('\n')[0]).toMatch(/^NAME\s+PHASE\s+HOST\s+CPU\s+MEMORY\s+READY\s+AGE$/);
    const w = await kubectl(['get', 'vm', '-o', 'wide']);
    expect(w.stdout.split('\n')[0]).toMatch(/RUN STRATEGY/);
    const d = await kubectl(['describe', 'vm', 'web-1']);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/Name:\s+web-1/);
    const same = await kubectl(['diff', '-f', path.join(REPO, 'examples/vm.yaml')]);
    expect(same.code).toBe(0);
    const changed = path.join(fe.dir, 'vm.yaml');
    fs.writeFileSync(changed, fs.readFileSync(path.join(REPO, 'examples/vm.yaml'), 'utf8').replace('cpu: 2', 'cpu: 4'));
    const diff = await kubectl(['diff', '-f', changed]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/^\+\s+cpu: 4$/m);
  }, 60000);

  test('strict field validation reports unknown fields from the server', async () => {
    const bad = path.join(fe.dir, 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: bad, namespace: demo}\nspec: {cpu: 1, memory: 1Gi, bogus: 1}\n');
    const r = await kubectl(['apply', '-f', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bogus/);
  });

  test('wait --for=condition=Ready returns when the status says so', async () => {
    const waiting = kubectl(['wait', '--for=condition=Ready', 'vm/web-1', '--timeout=30s']);
    await new Promise((r) => setTimeout(r, 1500));
    const cur = await api('GET', `${NS_PATH}/web-1`);
    await api('PATCH', `${NS_PATH}/web-1/status`, {
      status: { phase: 'Running', observedGeneration: cur.metadata.generation, conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    });
    const r = await waiting;
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/virtualmachine\.stratuslab\.eu\/web-1 condition met/);
  }, 60000);

  test('get -w shows a change, and delete waits until the object is gone', async () => {
    const child: ChildProcess = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, 'get', 'vm', '-w', '--request-timeout=20s']);
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    await new Promise((r) => setTimeout(r, 2500));
    await api('PATCH', `${NS_PATH}/shop-web-2`, { metadata: { labels: { watched: 'yes' } } });
    const del = await kubectl(['delete', 'vm', 'shop-web-2', '--timeout=30s']);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/virtualmachine\.stratuslab\.eu "shop-web-2" deleted/);
    await until('two watch lines for shop-web-2', () => out.split('\n').filter((l) => l.startsWith('shop-web-2')).length >= 2, { timeoutMs: 10_000, context: () => out });
    child.kill();
    const gone = await kubectl(['get', 'vm', 'shop-web-2']);
    expect(gone.stderr).toMatch(/NotFound/);
  }, 60000);
});

describe('@kubernetes/client-node informer', () => {
  test('keeps an accurate cache through creates, updates, deletes and a frontend restart', async () => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'informer.mjs'), kubeconfig, 'demo'], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: fe.ca }, cwd: REPO,
    });
    let last: Record<string, string> = {};
    const lines: any[] = [];
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        lines.push(l);
        if (l.cache) last = l.cache;
      }
    });
    const serverView = async () => {
      const list = await api('GET', NS_PATH);
      return Object.fromEntries(list.items.map((o: any) => [o.metadata.name, o.metadata.resourceVersion]));
    };
    const settle = async () => {
      const want = await serverView();
      await until('the informer cache to equal the server\'s list', () => JSON.stringify(Object.entries(last).sort()) === JSON.stringify(Object.entries(want).sort()),
        { timeoutMs: 20_000, everyMs: 200, context: () => `informer cache ${JSON.stringify(last)} != server ${JSON.stringify(want)}; events ${JSON.stringify(lines.slice(-5))}` });
    };
    try {
      await settle();
      const vm = (name: string) => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' }, spec: { cpu: 1, memory: '1Gi' } });
      await api('POST', NS_PATH, vm('inf-1'), 'application/json');
      await api('POST', NS_PATH, vm('inf-2'), 'application/json');
      await api('PATCH', `${NS_PATH}/inf-1`, { spec: { cpu: 2 } });
      await api('DELETE', `${NS_PATH}/inf-2`);
      await settle();
      await fe.restart();
      await api('POST', NS_PATH, vm('inf-3'), 'application/json');
      await api('PATCH', `${NS_PATH}/inf-1`, { spec: { cpu: 3 } });
      await settle();
      expect(Object.keys(last)).toEqual(expect.arrayContaining(['inf-1', 'inf-3']));
      expect(last['inf-2']).toBeUndefined();
    } finally {
      child.kill();
    }
  }, 120000);
});
