// Fuzzing the real frontend over HTTP: 10,000+ random and mutated requests (methods, paths, query
// parameters, media types, credentials, manifests with fields removed, retyped, renamed, nested,
// aliased, oversized). Every answer is below 500 and is a Kubernetes Status when it is an error,
// with no stack trace and no internal name; the process never fails; and nothing a refused request
// sent is written: every object that changed was named by a request that succeeded.
import { Pool } from 'undici';
import YAML from 'yaml';
import { openSiblingApi, openTestApi, API, type TestApi } from '../helpers/api';

const N = Number(process.env.STRATUS_FUZZ_N ?? 10_000);
const SEED = Number(process.env.STRATUS_FUZZ_SEED ?? 20240601);
const V = 'stratuslab.eu/v1alpha1';
let api: TestApi;
let pool: Pool;
let editor: string;

/** mulberry32: a small seeded PRNG, so a failure can be replayed with the same seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const chance = (p: number) => rnd() < p;

const NAMES = ['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'f-6', 'seed-vm', 'seed-vol', 'seed-img', 'seed-vm', 'seed-vol', 'seed-img', 'x', 'web-1', 'a'.repeat(63), 'a'.repeat(64), 'Bad_Name', '-x', 'x-', '', '..', '%2e%2e', 'ä', 'x y', 'null'];
const NAMESPACES = ['fuzz', 'fuzz', 'fuzz', 'fuzz', 'fuzz', 'fuzz', 'fuzz', 'fuzz', 'other', 'nope', 'UPPER', 'a'.repeat(70), '', '..', 'default'];
const PLURALS = ['virtualmachines', 'virtualmachines', 'virtualmachines', 'virtualmachines', 'virtualmachines', 'volumes', 'volumes', 'volumes', 'images', 'images',
  'projects', 'projects', 'hosts', 'widgets', 'VirtualMachines', 'vm', ''];
const WEIRD: unknown[] = [
  null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 31), 1e308, '', ' ', 'x'.repeat(5000), '2Gi', '-1Gi', '1e400', 'NaN', '∞', '💥', '\u0000', '<script>',
  [], [1, 2], [[[]]], {}, { a: { b: { c: {} } } }, { __proto__: { polluted: true } }, { constructor: { prototype: { x: 1 } } }, '${jndi:ldap://x}', '{{7*7}}',
];
const MEDIA = ['application/json', 'application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json',
  'application/apply-patch+yaml', 'application/strategic-merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded', '', 'application/json; charset=utf-16'];

function manifest(kind: string, name: string): Record<string, any> {
  const meta = { name, labels: { app: 'fuzz' } };
  switch (kind) {
    case 'virtualmachines': return { apiVersion: V, kind: 'VirtualMachine', metadata: meta, spec: { cpu: 1, memory: '1Gi', disks: [{ name: 'root', image: 'img', size: '1Gi' }], networks: [{ name: 'default' }], placement: { hostSelector: { a: 'b' } } } };
    case 'volumes': return { apiVersion: V, kind: 'Volume', metadata: meta, spec: { size: '1Gi' } };
    case 'images': return { apiVersion: V, kind: 'Image', metadata: meta, spec: { source: { url: 'https://example.org/i.qcow2' }, format: 'qcow2' } };
    case 'projects': return { apiVersion: V, kind: 'Project', metadata: meta, spec: { members: [{ user: 'u', role: 'viewer' }], quota: { vms: 5 } } };
    default: return { apiVersion: V, kind: 'Host', metadata: meta, spec: { unschedulable: false } };
  }
}

/** Randomly breaks a JSON value: removes, retypes or adds keys at random depths. */
function mutate(v: any, depth = 0): any {
  if (v === null || typeof v !== 'object' || depth > 6) return chance(0.3) ? pick(WEIRD) : v;
  const out: any = Array.isArray(v) ? [...v] : { ...v };
  const keys = Object.keys(out);
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const k = keys.length ? pick(keys) : 'x';
    if (r < 0.25) delete out[k];
    else if (r < 0.55) out[k] = pick(WEIRD);
    else if (r < 0.85) out[k] = mutate(out[k], depth + 1);
    else out[pick(['bogus', 'status', 'metadata', 'spec', '__proto__', 'kind', 'apiVersion', 'cpu', 'resourceVersion'])] = pick(WEIRD);
  }
  return out;
}

function nested(depth: number): any {
  let v: any = 'leaf';
  for (let i = 0; i < depth; i++) v = chance(0.5) ? [v] : { a: v };
  return v;
}

function body(plural: string, name: string, media: string): string | undefined {
  const r = rnd();
  if (r < 0.04) return undefined;
  if (r < 0.08) return pick(['{', '[1,', '{"a":}', 'null', '"str"', '42', '\u0000\u0001', '{"a":1}{"b":2}', 'a: [', '- - -', '---\na: 1\n---\nb: 2', '%YAML 9.9\n---']);
  if (r < 0.10) return JSON.stringify({ ...manifest(plural, name), spec: nested(40 + Math.floor(rnd() * 60)) });
  if (r < 0.12) return 'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
  if (r < 0.13) return JSON.stringify({ ...manifest(plural, name), metadata: { name, annotations: { big: 'y'.repeat(300 * 1024) } } });
  if (r < 0.18) return JSON.stringify([{ op: pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']), path: pick(['/spec/cpu', '/metadata', '/', '', '/spec/disks/-', '/status', '/metadata/name']), value: pick(WEIRD), from: '/spec' }]);
  const m = JSON.parse(JSON.stringify(chance(0.25) ? manifest(plural, name) : mutate(manifest(chance(0.8) ? plural : pick(PLURALS), name))) ?? 'null');
  return media.includes('yaml') && chance(0.5) ? YAML.stringify(m) : JSON.stringify(m);
}

interface Sent { method: string; path: string; status: number; text: string }

function request(): { method: string; path: string; headers: Record<string, string>; body?: string } {
  const method = pick(['GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'PUT', 'PATCH', 'PATCH', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
  const plural = pick(PLURALS);
  const ns = pick(NAMESPACES);
  const seeds: Record<string, string> = { virtualmachines: 'seed-vm', volumes: 'seed-vol', images: 'seed-img', projects: 'fuzz' };
  const name = method !== 'POST' && seeds[plural] && chance(0.5) ? seeds[plural] : pick(NAMES);
  const namespaced = plural !== 'projects' && plural !== 'hosts';
  let path = namespaced && chance(0.93) ? `${API}/namespaces/${encodeURIComponent(ns)}/${plural}` : `${API}/${plural}`;
  if (method === 'PUT' || method === 'PATCH' ? chance(0.95) : method !== 'POST' && chance(0.6)) path += `/${encodeURIComponent(name)}`;
  if (chance(0.08)) path += '/status';
  if (chance(0.03)) path = pick(['/api/v1/namespaces', `/api/v1/namespaces/${ns}`, '/apis', '/api', '/openapi/v2', '/version', '/metrics', '/admin/v1/users', '/admin/v1/tokens', '/auth/v1/tokens', '/auth/v1/whoami', '/admin/v1/audit?since=x', '/../../etc/passwd', '/apis/stratuslab.eu/v1alpha1/namespaces/fuzz/virtualmachines/%ZZ', '/' + 'x'.repeat(3000)]);
  const q: string[] = [];
  if (chance(0.15)) q.push(`limit=${pick(['-1', '0', '1', '1001', 'abc', '1e3', '99999999999999999999'])}`);
  if (chance(0.1)) q.push(`continue=${pick(['x', 'eyJ2IjoxfQ', 'eyJ2IjoiczEiLCJucyI6InoiLCJydiI6IngifQ', '%00'])}`);
  if (chance(0.1)) q.push(`labelSelector=${encodeURIComponent(pick(['a=b', 'a in (b', '!!', 'a notin ()', '=', 'a,b=c,,', 'x'.repeat(400)]))}`);
  if (chance(0.1)) q.push(`fieldSelector=${encodeURIComponent(pick(['metadata.name=x', 'spec.cpu=1', 'status.host', 'metadata.namespace!=a', '==']))}`);
  if (chance(0.1)) q.push(`dryRun=${pick(['All', 'all', 'None', ''])}`);
  if (chance(0.1)) q.push(`fieldValidation=${pick(['Strict', 'Warn', 'Ignore', 'Bogus'])}`);
  if (chance(0.08)) q.push(`fieldManager=${pick(['t', '', 'x'.repeat(200)])}&force=${pick(['true', 'false', 'x'])}`);
  if (method === 'GET' && chance(0.02)) q.push(`watch=true&timeoutSeconds=1&resourceVersion=${pick(['0', 'x', '00000000-0000-1000-8080-808080808080', ''])}`);
  if (q.length) path += `?${q.join('&')}`;
  const media = pick(MEDIA);
  const headers: Record<string, string> = {};
  const who = rnd();
  if (who < 0.75) headers['authorization'] = `Bearer ${api.token}`;
  else if (who < 0.88) headers['authorization'] = `Bearer ${editor}`;
  else if (who < 0.95) headers['authorization'] = pick(['Bearer x', 'Basic Og==', `Bearer ${api.token}0`, 'Bearer a.b.c', '']);
  if (media) headers['content-type'] = media;
  if (chance(0.1)) headers['accept'] = pick(['application/yaml', 'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/vnd.kubernetes.protobuf', '*/*', 'text/html']);
  const withBody = ['POST', 'PUT', 'PATCH'].includes(method) || (method === 'DELETE' && chance(0.2));
  return { method, path, headers, body: withBody ? body(plural === '' ? 'virtualmachines' : plural, name, media) : undefined };
}

async function objects(): Promise<Map<string, string>> {
  const rs = await api.client.execute(`SELECT kind, namespace, name, rv FROM ${api.keyspace}.objects`, [], { fetchSize: 100000 });
  return new Map(rs.rows.map((r) => [`${r['kind']}/${r['namespace']}/${r['name']}`, String(r['rv'])] as [string, string]));
}

beforeAll(async () => {
  api = await openTestApi('fuzz', { auth: { projectCacheMs: 2000 } });
  editor = await api.tokenFor('fuzz-editor');
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'fuzz' }, spec: { members: [{ user: 'fuzz-editor', role: 'editor' }], quota: { vms: 200 } } }).expect(201);
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'other' }, spec: {} }).expect(201);
  for (const [plural, name] of [['virtualmachines', 'seed-vm'], ['volumes', 'seed-vol'], ['images', 'seed-img']]) {
    await api.req.post(`${API}/namespaces/fuzz/${plural}`).send(manifest(plural, name)).expect(201);
  }
  pool = new Pool(api.url, { connections: 16, pipelining: 1 });
}, 60000);
afterAll(async () => {
  await pool.close();
  await api.close();
});

test(`${N} random and mutated requests: only 4xx for bad input, never 5xx, and nothing written by a refused request`, async () => {
  const before = await objects();
  const sent: Sent[] = [];
  const touched = new Set<string>();
  const kindOf: Record<string, string> = { virtualmachines: 'VirtualMachine', volumes: 'Volume', images: 'Image', projects: 'Project', hosts: 'Host' };
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next++;
      const r = request();
      const res = await pool.request({ method: r.method as 'GET', path: r.path, headers: r.headers, body: r.body, headersTimeout: 20000, bodyTimeout: 20000 }).catch((err) => {
        throw new Error(`${r.method} ${r.path}: ${err.message}`);
      });
      let text = '';
      if (r.path.includes('watch=true') && res.statusCode === 200) {
        res.body.on('error', () => undefined); // a watch stream: hang up, as clients do
        res.body.destroy();
      } else {
        text = await res.body.text();
      }
      sent.push({ method: r.method, path: r.path, status: res.statusCode, text });
      if (res.statusCode >= 500) throw new Error(`${r.method} ${r.path} -> ${res.statusCode} ${text.slice(0, 300)} (body: ${String(r.body).slice(0, 300)})`);
      if (res.statusCode < 300 && r.method !== 'GET' && r.method !== 'HEAD' && r.method !== 'OPTIONS') {
        // A successful write may have changed whatever its URL names (or, for a collection, its namespace).
        const m = /\/apis\/stratuslab\.eu\/v1alpha1(?:\/namespaces\/([^/?]+))?\/([^/?]+)(?:\/([^/?]+))?/.exec(r.path);
        if (m) touched.add(`${kindOf[m[2]] ?? m[2]}/${m[1] ? decodeURIComponent(m[1]) : ''}/${m[3] ? decodeURIComponent(m[3]) : '*'}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const ms = Date.now() - started;

  const byStatus = new Map<number, number>();
  for (const s of sent) byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
  process.stderr.write(`fuzz: ${sent.length} requests in ${ms} ms (seed ${SEED}): ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}\n`);
  expect(sent.length).toBeGreaterThanOrEqual(N);
  expect([...byStatus.keys()].every((c) => c < 500)).toBe(true);
  expect([...byStatus.keys()].filter((c) => c >= 400).length).toBeGreaterThan(5);

  // Errors are Kubernetes Status objects with no stack trace and no internal names.
  for (const s of sent) {
    if (s.status < 400 || s.method === 'HEAD' || s.status === 431) continue;
    let status: any;
    try {
      status = s.text.startsWith('{') ? JSON.parse(s.text) : YAML.parse(s.text);
    } catch {
      throw new Error(`${s.method} ${s.path} -> ${s.status}: not a Status: ${s.text.slice(0, 200)}`);
    }
    expect(status).toMatchObject({ kind: 'Status', status: 'Failure', code: s.status });
    if (/\bat \S+\.(ts|js):\d+|node_modules|cassandra|keyspace|t_fuzz_/i.test(s.text)) throw new Error(`${s.method} ${s.path} leaks internals: ${s.text.slice(0, 300)}`);
  }

  // Nothing written by refused requests: every object that appeared, changed or vanished was
  // named by a successful write.
  const after = await objects();
  const allowed = (key: string) => {
    const [kind, ns] = key.split('/');
    return touched.has(key) || touched.has(`${kind}/${ns}/*`) || touched.has(`${kind}//*`);
  };
  for (const [key, rv] of after) if (before.get(key) !== rv && !allowed(key)) throw new Error(`${key} changed, but no successful request named it`);
  for (const key of before.keys()) if (!after.has(key) && !allowed(key)) throw new Error(`${key} vanished, but no successful request named it`);
  // And the quota ledger agrees with the objects.
  await api.security.ledger.idle();
  expect((await api.security.reconciler.reconcileProject('fuzz')).repaired).toBe(0);
}, 120_000);

test('hostile YAML within the size limit (deep flow or block nesting, compact sequences, alias bombs) is refused fast with 400', async () => {
  const bodies = {
    flow: '['.repeat(3_000_000),
    block: `a:\n${Array.from({ length: 1500 }, (_, i) => `${' '.repeat(i + 1)}b:`).join('\n')}`,
    compact: '- '.repeat(1_000_000),
    aliases: `a: &a [${'x,'.repeat(100)}x]\n${Array.from({ length: 40 }, (_, i) => `k${i}: &k${i} [*a, *a]`).join('\n')}\n`,
  };
  const big = await openSiblingApi(api, { maxBytes: 3 * 1024 * 1024 });
  try {
    for (const [name, text] of Object.entries(bodies)) {
      const started = Date.now();
      const r = await big.req.post(`${API}/namespaces/x/virtualmachines`).set('Content-Type', 'application/yaml').send(text);
      expect([name, r.status, r.body.reason]).toEqual([name, 400, 'BadRequest']);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    await big.req.get('/healthz').expect(200);
  } finally {
    await big.close();
  }
});
