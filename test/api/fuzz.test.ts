// Fuzzing the real frontend over HTTP with fast-check, on every kind of schemas/kinds.ts: malformed
// DeleteOptions, JSON and merge patches, list and watch queries, broken manifests and random
// requests. Bad input gets only 4xx (a Kubernetes Status, no stack trace, no internal name), never
// 5xx; a refused request writes and deletes nothing (same resourceVersions); the frontend still
// answers /readyz. Seeded: STRATUS_FUZZ_SEED replays a run (the seed is printed on failure), and
// STRATUS_FUZZ_SCALE multiplies the number of runs (CI: 1, under a minute).
import fc from 'fast-check';
import { Pool } from 'undici';
import YAML from 'yaml';
import { openSiblingApi, openTestApi, API, type TestApi } from '../helpers/api';
import { manifestOf, urlOf, SERVED_KINDS } from '../helpers/manifests';
import {
  FAILING_TEST, brokenManifest, jsonPatch, listQuery, malformedDeleteOptions, malformedDeleteQuery, mergePatch,
} from '../helpers/fuzz-arbitraries';
import type { KindInfo } from '../../schemas/kinds';

const SEED = Number(process.env.STRATUS_FUZZ_SEED ?? 20240601);
const SCALE = Number(process.env.STRATUS_FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const NS = 'fuzz';
let api: TestApi;
let pool: Pool;
let editor: string;

interface Answer { status: number; text: string }

/** One request; `auth` is the Authorization header (default: the administrator's token; '' for none). */
async function send(method: string, path: string, opts: { body?: string; type?: string; auth?: string } = {}): Promise<Answer> {
  const auth = opts.auth ?? `Bearer ${api.token}`;
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  if (opts.type) headers['content-type'] = opts.type;
  const res = await pool.request({ method: method as 'GET', path, headers, body: opts.body, headersTimeout: 20000, bodyTimeout: 20000 });
  if (/[?&]watch=/.test(path) && res.statusCode === 200) {
    res.body.on('error', () => undefined); // a watch stream: hang up once it answered, as clients do
    res.body.destroy();
    return { status: res.statusCode, text: '' };
  }
  return { status: res.statusCode, text: await res.body.text() };
}

/**
 * An error answer is a Kubernetes Status of its own code, with no stack trace and no internal name;
 * never a 5xx, but for Kubernetes' own answer to a resourceVersion from the future (504 Too large).
 */
function checkAnswer(what: string, a: Answer): void {
  const tooLarge = a.status === 504 && (/"reason":"ResourceVersionTooLarge"/.test(a.text) || (a.text === '' && /[?&]resourceVersion=/.test(what)));
  if (a.status >= 500 && !tooLarge) throw new Error(`${what} -> ${a.status}: ${a.text.slice(0, 300)}`);
  if (a.status < 400 || a.text === '') return;
  let status: any;
  try {
    status = a.text.startsWith('{') ? JSON.parse(a.text) : YAML.parse(a.text);
  } catch {
    throw new Error(`${what} -> ${a.status}: not a Status: ${a.text.slice(0, 200)}`);
  }
  if (status?.kind !== 'Status' || status.status !== 'Failure' || status.code !== a.status) throw new Error(`${what} -> ${a.status}: not a Status: ${a.text.slice(0, 200)}`);
  if (/\bat \S+\.(ts|js):\d+|node_modules|cassandra|keyspace|t_fuzz_/i.test(a.text)) throw new Error(`${what} leaks internals: ${a.text.slice(0, 300)}`);
}

function expect4xx(what: string, a: Answer): void {
  checkAnswer(what, a);
  if (a.status < 400) throw new Error(`${what} was accepted (${a.status}) but must be refused: ${a.text.slice(0, 200)}`);
}

/** Every object row: key -> resourceVersion. */
async function rows(): Promise<Map<string, string>> {
  const rs = await api.client.execute(`SELECT kind, namespace, name, rv FROM ${api.keyspace}.objects`, [], { fetchSize: 100000 });
  return new Map(rs.rows.map((r) => [`${r['kind']}/${r['namespace']}/${r['name']}`, String(r['rv'])] as [string, string]));
}

/**
 * Runs `fn` and checks that no object appeared, changed or vanished meanwhile (after the project
 * usage that earlier writes scheduled has been written).
 */
async function writesNothing(fn: () => Promise<void>): Promise<void> {
  await api.security.ledger.idle();
  await api.security.usage.flush();
  const before = await rows();
  await fn();
  expect(await rows()).toEqual(before);
}

/** fast-check's assert with this run's seed (printed with the counterexample on failure). */
function check<T>(prop: fc.IAsyncPropertyWithHooks<T> | fc.IAsyncProperty<T>, numRuns: number, salt: number): Promise<void> {
  return fc.assert(prop, { seed: SEED + salt, numRuns: runs(numRuns), verbose: 1 });
}

const target = (kind: KindInfo) => urlOf(kind, NS, `fz-${kind.plural}`);

beforeAll(async () => {
  api = await openTestApi('fuzz', { auth: { projectCacheMs: 2000 } });
  editor = await api.tokenFor('fuzz-editor');
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: NS }, spec: { members: [{ user: 'fuzz-editor', role: 'editor' }], quota: { vms: 200 } } }).expect(201);
  for (const kind of SERVED_KINDS) await api.req.post(urlOf(kind, NS)).send(manifestOf(kind, `fz-${kind.plural}`)).expect(201);
  pool = new Pool(api.url, { connections: 8, pipelining: 1 });
  process.stderr.write(`fuzz: seed ${SEED} (STRATUS_FUZZ_SEED), scale ${SCALE} (STRATUS_FUZZ_SCALE)\n`);
}, 60000);
afterAll(async () => {
  await pool.close();
  await api.close();
});
afterEach(async () => {
  expect((await send('GET', '/readyz')).status).toBe(200);
});

test('malformed DeleteOptions (body or query) are refused with 4xx on every kind and delete nothing', async () => {
  await writesNothing(async () => {
    for (const [i, kind] of SERVED_KINDS.entries()) {
      await check(fc.asyncProperty(malformedDeleteOptions, fc.boolean(), async (body, yaml) => {
        const text = yaml && body !== null && typeof body === 'object' ? YAML.stringify(body) : JSON.stringify(body);
        expect4xx(`DELETE ${kind.plural} ${text}`, await send('DELETE', target(kind), { body: text, type: yaml ? 'application/yaml' : 'application/json' }));
      }), 150, i);
      await check(fc.asyncProperty(malformedDeleteQuery, async (query) => {
        expect4xx(`DELETE ${kind.plural}?${query}`, await send('DELETE', `${target(kind)}?${query}`));
      }), 40, 100 + i);
      // deletecollection reads the same body
      await check(fc.asyncProperty(malformedDeleteOptions, async (body) => {
        expect4xx(`DELETE collection ${kind.plural} ${JSON.stringify(body)}`, await send('DELETE', urlOf(kind, NS), { body: JSON.stringify(body), type: 'application/json' }));
      }), 30, 200 + i);
    }
  });
});

test('JSON patches: any patch under dryRun is never a 5xx; one ending in a failing test is refused with 4xx; neither writes', async () => {
  await writesNothing(async () => {
    for (const [i, kind] of SERVED_KINDS.entries()) {
      await check(fc.asyncProperty(jsonPatch, async (patch) => {
        checkAnswer(`PATCH ${kind.plural} ${JSON.stringify(patch)}`, await send('PATCH', `${target(kind)}?dryRun=All`, { body: JSON.stringify(patch), type: 'application/json-patch+json' }));
      }), 150, 300 + i);
      await check(fc.asyncProperty(jsonPatch, async (patch) => {
        const ops = Array.isArray(patch) ? [...patch, FAILING_TEST] : patch;
        expect4xx(`PATCH ${kind.plural} ${JSON.stringify(ops)}`, await send('PATCH', target(kind), { body: JSON.stringify(ops), type: 'application/json-patch+json' }));
      }), 80, 400 + i);
    }
  });
});

test('merge patches and apply configurations under dryRun are never a 5xx and write nothing', async () => {
  await writesNothing(async () => {
    for (const [i, kind] of SERVED_KINDS.entries()) {
      await check(fc.asyncProperty(mergePatch, async (patch) => {
        checkAnswer(`merge PATCH ${kind.plural} ${JSON.stringify(patch)}`, await send('PATCH', `${target(kind)}?dryRun=All`, { body: JSON.stringify(patch), type: 'application/merge-patch+json' }));
      }), 80, 500 + i);
      await check(fc.asyncProperty(brokenManifest(manifestOf(kind, `fz-${kind.plural}`)), fc.constantFrom('true', 'false', 'x'), async (body, force) => {
        const path = `${target(kind)}?dryRun=All&fieldManager=fuzz&force=${force}`;
        checkAnswer(`apply ${kind.plural} ${JSON.stringify(body)}`, await send('PATCH', path, { body: JSON.stringify(body), type: 'application/apply-patch+yaml' }));
      }), 50, 600 + i);
    }
  });
});

test('list and watch queries on every kind are never a 5xx, and read nothing they should not', async () => {
  await writesNothing(async () => {
    for (const [i, kind] of SERVED_KINDS.entries()) {
      await check(fc.asyncProperty(listQuery, fc.boolean(), async (query, allNamespaces) => {
        const base = allNamespaces && kind.namespaced ? `${API}/${kind.plural}` : urlOf(kind, NS);
        // timeoutSeconds=1 last (the last value wins): a watch ends on its own even when the fuzz asked otherwise
        const path = `${base}?${query}${query ? '&' : ''}timeoutSeconds=1`;
        checkAnswer(`GET ${path}`, await send('GET', path, { auth: allNamespaces ? `Bearer ${editor}` : undefined }));
      }), 150, 700 + i);
    }
  });
});

test('broken manifests: a refused create leaves nothing behind, a refused replace changes nothing, none is a 5xx', async () => {
  let n = 0;
  for (const [i, kind] of SERVED_KINDS.entries()) {
    await check(fc.asyncProperty(brokenManifest(manifestOf(kind, 'placeholder')), fc.boolean(), async (body, yaml) => {
      const name = `fz-new-${n++}`;
      if (body && typeof body === 'object' && !Array.isArray(body) && (body as any).metadata && typeof (body as any).metadata === 'object' && !Array.isArray((body as any).metadata)) {
        (body as any).metadata.name = name;
      }
      const text = yaml ? YAML.stringify(body) : JSON.stringify(body);
      const created = await send('POST', urlOf(kind, NS), { body: text, type: yaml ? 'application/yaml' : 'application/json' });
      checkAnswer(`POST ${kind.plural} ${text}`, created);
      const row = (await rows()).get(`${kind.kind}/${kind.namespaced ? NS : ''}/${name}`);
      if (created.status >= 400 && row !== undefined) throw new Error(`POST ${kind.plural} ${text} was refused (${created.status}) but ${name} exists`);
      if (created.status < 300) await api.req.delete(urlOf(kind, NS, JSON.parse(created.text).metadata.name)).expect(200);
    }), 50, 800 + i);
    await writesNothing(async () => {
      const current = (await api.req.get(target(kind)).expect(200)).body;
      await check(fc.asyncProperty(brokenManifest(current), async (body) => {
        checkAnswer(`PUT ${kind.plural} ${JSON.stringify(body)}`, await send('PUT', `${target(kind)}?dryRun=All`, { body: JSON.stringify(body), type: 'application/json' }));
      }), 50, 900 + i);
    });
  }
});

/** A random request: any method, path, query, media type and credential, with a body of any kind. */
const anyRequest = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
  kind: fc.constantFrom(...SERVED_KINDS),
  name: fc.constantFrom('fz-virtualmachines', 'fz-volumes', 'fz-images', 'fz-hosts', 'fz-projects', 'x', 'a'.repeat(64), 'Bad_Name', '-x', '%2e%2e', '', 'null'),
  namespace: fc.constantFrom(NS, NS, NS, 'other', 'nope', 'UPPER', '', '..'),
  sub: fc.constantFrom('', '', '', '/status'),
  query: listQuery,
  media: fc.constantFrom('application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml',
    'application/strategic-merge-patch+json', 'text/plain', ''),
  auth: fc.constantFrom('admin', 'admin', 'editor', 'Bearer x', 'Basic Og==', ''),
  body: fc.oneof(fc.constant(undefined), jsonPatch, mergePatch, malformedDeleteOptions, fc.string({ maxLength: 20 })),
});

test('random requests of any method, path, query, media type and credential: never a 5xx, and a refused request writes nothing', async () => {
  await api.security.ledger.idle();
  await api.security.usage.flush();
  const before = await rows();
  await check(fc.asyncProperty(anyRequest, async (r) => {
    const collection = r.kind.namespaced && r.namespace !== '' ? `${API}/namespaces/${encodeURIComponent(r.namespace)}/${r.kind.plural}` : `${API}/${r.kind.plural}`;
    const url = r.method === 'POST' && r.sub === '' ? collection : `${collection}/${encodeURIComponent(r.name)}${r.sub}`;
    // Every write is a dry run (dryRun=All first: a random later dryRun is refused, never weaker).
    const query = [r.method === 'GET' || r.method === 'HEAD' ? '' : 'dryRun=All', r.query, 'timeoutSeconds=1'].filter(Boolean).join('&');
    const path = `${url}?${query}`;
    const auth = r.auth === 'admin' ? `Bearer ${api.token}` : r.auth === 'editor' ? `Bearer ${editor}` : r.auth;
    const body = r.body === undefined || r.method === 'GET' || r.method === 'HEAD' ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    checkAnswer(`${r.method} ${path} (${r.media}) ${String(body).slice(0, 200)}`, await send(r.method, path, { body, type: r.media || undefined, auth }));
  }), 2000, 1000);
  // Every request but GETs carried dryRun=All: whatever succeeded wrote nothing either.
  expect(await rows()).toEqual(before);
  await api.security.ledger.idle();
  expect((await api.security.reconciler.reconcileProject(NS)).repaired).toBe(0);
});

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
