// Issue #11, items 1 and 8's findings: request options and patches are decoded strictly, as
// Kubernetes decodes them, before anything is read or written. Malformed DeleteOptions delete
// nothing (400, or 422 for unsupported values), JSON patches that the patch library chokes on
// (a move into its own child, a path through __proto__) are 422 on every kind, list and watch
// parameters are 400 naming the parameter, and a 500 names the request id it was logged under.
import http from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../api/app';
import { createCassandraClient, ObjectStore } from '../../store';
import { openTestApi, validator, API, type TestApi } from '../helpers/api';
import { cassandraContactPoints } from '../helpers/store';
import { manifestOf, urlOf, SERVED_KINDS } from '../helpers/manifests';

let api: TestApi;
const NS = 'strict';

/** The resourceVersion of an object's row in Cassandra, or undefined when there is none. */
async function rowRv(kind: string, namespaced: boolean, name: string): Promise<string | undefined> {
  const rs = await api.client.execute(`SELECT rv FROM ${api.keyspace}.objects WHERE kind = ? AND namespace = ? AND name = ?`, [kind, namespaced ? NS : '', name]);
  const row = rs.first();
  return row ? String(row['rv']) : undefined;
}

/** Creates one object of every kind, named `${prefix}-${plural}`; returns their resourceVersions. */
async function seed(prefix: string): Promise<Map<string, string>> {
  const rvs = new Map<string, string>();
  for (const kind of SERVED_KINDS) {
    const name = `${prefix}-${kind.plural}`;
    const res = await api.req.post(urlOf(kind, NS)).send(manifestOf(kind, name)).expect(201);
    rvs.set(kind.kind, res.body.metadata.resourceVersion);
  }
  return rvs;
}

beforeAll(async () => {
  api = await openTestApi('strict');
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: NS }, spec: {} }).expect(201);
});
afterAll(async () => api.close());

describe('DeleteOptions', () => {
  // The six bodies of the finding: Kubernetes cannot decode the first five (400) and refuses the
  // sixth's value (422 Invalid DeleteOptions.meta.k8s.io, FieldValueNotSupported).
  const MALFORMED: [string, unknown, number, RegExp][] = [
    ['dryRun as a string', { dryRun: 'All' }, 400, /dryRun: Invalid value: "All": must be array/],
    ['preconditions as a string', { preconditions: 'x' }, 400, /preconditions: Invalid value: "x": must be object/],
    ['a list', [], 400, /must be object/],
    ['another kind', { kind: 'Pod' }, 400, /no kind "Pod" is registered/],
    ['gracePeriodSeconds as a string', { gracePeriodSeconds: 'x' }, 400, /gracePeriodSeconds: Invalid value: "x": must be an integer/],
    ['an unknown propagationPolicy', { propagationPolicy: 'Garbage' }, 422, /propagationPolicy: Unsupported value: "Garbage"/],
  ];

  test('each malformed body of the finding is refused on every kind, and deletes nothing', async () => {
    const rvs = await seed('del');
    for (const kind of SERVED_KINDS) {
      const name = `del-${kind.plural}`;
      for (const [what, body, code, message] of MALFORMED) {
        const res = await api.req.delete(urlOf(kind, NS, name)).send(body as object);
        expect([kind.plural, what, res.status, res.body.kind, res.body.code]).toEqual([kind.plural, what, code, 'Status', code]);
        expect(res.body.message).toMatch(message);
      }
      expect(await rowRv(kind.kind, kind.namespaced, name)).toBe(rvs.get(kind.kind));
      const got = await api.req.get(urlOf(kind, NS, name)).expect(200);
      expect(got.body.metadata.resourceVersion).toBe(rvs.get(kind.kind));
    }
  });

  test('the refusal names the field: 400 with causes, 422 Invalid DeleteOptions.meta.k8s.io as Kubernetes answers', async () => {
    await api.req.post(urlOf(SERVED_KINDS[0], NS)).send(manifestOf(SERVED_KINDS[0], 'named')).expect(201);
    const url = urlOf(SERVED_KINDS[0], NS, 'named');
    const bad = await api.req.delete(url).send({ dryRun: 'All' }).expect(400);
    expect(bad.body).toMatchObject({ reason: 'BadRequest', details: { kind: 'DeleteOptions', group: 'meta.k8s.io', causes: [{ field: 'dryRun' }] } });
    const invalid = await api.req.delete(url).send({ propagationPolicy: 'Garbage' }).expect(422);
    expect(invalid.body).toMatchObject({
      reason: 'Invalid', message: expect.stringMatching(/^DeleteOptions\.meta\.k8s\.io "" is invalid: propagationPolicy: Unsupported value/),
      details: { kind: 'DeleteOptions', group: 'meta.k8s.io', causes: [{ field: 'propagationPolicy', reason: 'FieldValueNotSupported' }] },
    });
    const both = await api.req.delete(url).send({ propagationPolicy: 'Orphan', orphanDependents: true }).expect(422);
    expect(both.body.message).toMatch(/orphanDependents and deletionPropagation cannot be both set/);
    const dry = await api.req.delete(url).send({ dryRun: ['All', 'Some'] }).expect(422);
    expect(dry.body.details.causes[0]).toMatchObject({ field: 'dryRun', reason: 'FieldValueNotSupported' });
    await api.req.get(url).expect(200);
  });

  test('preconditions hold only uid and resourceVersion: an unknown or misspelt field is refused, an empty uid never matches', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    const created = await api.req.post(urlOf(vm, NS)).send(manifestOf(vm, 'pre')).expect(201);
    const url = urlOf(vm, NS, 'pre');
    const unknown = await api.req.delete(url).send({ preconditions: { uid: created.body.metadata.uid, resourceVerison: 'x' } }).expect(400);
    expect(unknown.body.message).toMatch(/unknown field "preconditions\.resourceVerison"/);
    const misspelt = await api.req.delete(url).send({ precondition: { uid: 'someone-else' } }).expect(400);
    expect(misspelt.body.message).toMatch(/unknown field "precondition"/);
    await api.req.delete(url).send({ preconditions: { uid: '' } }).expect(409);
    await api.req.delete(url).send({ preconditions: { uid: 7 } }).expect(400);
    expect(await rowRv('VirtualMachine', true, 'pre')).toBe(created.body.metadata.resourceVersion);
    await api.req.delete(url).send({ preconditions: { uid: created.body.metadata.uid, resourceVersion: null } }).expect(200);
    expect(await rowRv('VirtualMachine', true, 'pre')).toBeUndefined();
  });

  test('valid DeleteOptions are accepted: meta.k8s.io/v1 or v1, null fields, a JSON null body, dryRun ["All"] deletes nothing', async () => {
    const vol = SERVED_KINDS.find((k) => k.kind === 'Volume')!;
    const created = await api.req.post(urlOf(vol, NS)).send(manifestOf(vol, 'opts')).expect(201);
    const url = urlOf(vol, NS, 'opts');
    await api.req.delete(url).send({ apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', dryRun: ['All'], gracePeriodSeconds: 0 }).expect(200);
    await api.req.delete(url).set('Content-Type', 'application/yaml').send('apiVersion: v1\nkind: DeleteOptions\ndryRun: [All]\n').expect(200);
    await api.req.delete(url).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'DeleteOptions' }).expect(400);
    expect(await rowRv('Volume', true, 'opts')).toBe(created.body.metadata.resourceVersion);
    await api.req.delete(url).set('Content-Type', 'application/json').send('null').expect(200);
    expect(await rowRv('Volume', true, 'opts')).toBeUndefined();
    await api.req.post(urlOf(vol, NS)).send(manifestOf(vol, 'opts-2')).expect(201);
    await api.req.delete(urlOf(vol, NS, 'opts-2')).send({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground', gracePeriodSeconds: 30, preconditions: null, dryRun: null }).expect(200);
    expect(await rowRv('Volume', true, 'opts-2')).toBeUndefined();
  });

  test('without a body, the query\'s DeleteOptions are checked the same way', async () => {
    const img = SERVED_KINDS.find((k) => k.kind === 'Image')!;
    const created = await api.req.post(urlOf(img, NS)).send(manifestOf(img, 'query')).expect(201);
    const url = urlOf(img, NS, 'query');
    expect((await api.req.delete(`${url}?gracePeriodSeconds=x`).expect(400)).body.message).toMatch(/gracePeriodSeconds: Invalid value: "x"/);
    expect((await api.req.delete(`${url}?propagationPolicy=Garbage`).expect(422)).body.message).toMatch(/propagationPolicy: Unsupported value/);
    await api.req.delete(`${url}?orphanDependents=maybe`).expect(400);
    await api.req.delete(`${url}?dryRun=all`).expect(400);
    await api.req.delete(`${url}?dryRun=All&propagationPolicy=Background&gracePeriodSeconds=0`).expect(200);
    expect(await rowRv('Image', true, 'query')).toBe(created.body.metadata.resourceVersion);
  });

  test('a chunked DELETE body (no Content-Length) is read and checked too', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    const created = await api.req.post(urlOf(vm, NS)).send(manifestOf(vm, 'chunked')).expect(201);
    const send = (body: string) => new Promise<number>((resolve, reject) => {
      const req = http.request(`${api.url}${urlOf(vm, NS, 'chunked')}`, { method: 'DELETE', headers: { ...api.auth, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    });
    expect(await send('{"dryRun":"All"}')).toBe(400);
    expect(await send('{"dryRun":["All"]}')).toBe(200);
    expect(await rowRv('VirtualMachine', true, 'chunked')).toBe(created.body.metadata.resourceVersion);
  });

  test('deletecollection checks its DeleteOptions body and its ListOptions before deleting anything', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    for (const n of ['sweep-1', 'sweep-2']) await api.req.post(urlOf(vm, NS)).send(manifestOf(vm, n, { sweep: 'yes' })).expect(201);
    const url = `${urlOf(vm, NS)}?labelSelector=sweep%3Dyes`;
    await api.req.delete(url).send({ dryRun: 'All' }).expect(400);
    await api.req.delete(url).send({ propagationPolicy: 'Garbage' }).expect(422);
    await api.req.delete(`${url}&limit=x`).expect(400);
    const dry = await api.req.delete(url).send({ dryRun: ['All'] }).expect(200);
    expect(dry.body.items.map((o: any) => o.metadata.name).sort()).toEqual(['sweep-1', 'sweep-2']);
    expect(await rowRv('VirtualMachine', true, 'sweep-1')).toBeDefined();
    expect(await rowRv('VirtualMachine', true, 'sweep-2')).toBeDefined();
    await api.req.delete(url).expect(200);
    expect(await rowRv('VirtualMachine', true, 'sweep-1')).toBeUndefined();
  });
});

describe('JSON patches', () => {
  const jsonPatch = (url: string, ops: unknown) => api.req.patch(url).set('Content-Type', 'application/json-patch+json').send(JSON.stringify(ops));

  test('a move into its own child and a path through __proto__ are 422 on every kind (never 500), and write nothing', async () => {
    const rvs = await seed('jp');
    const hostile: [string, unknown[], RegExp][] = [
      ['move into itself', [{ op: 'move', from: '/spec', path: '/spec/x' }], /\[0\]\.from: Invalid value: "\/spec": a location cannot be moved into one of its children/],
      ['move metadata into itself', [{ op: 'move', from: '/metadata', path: '/metadata/labels/x' }], /cannot be moved into one of its children/],
      ['add through __proto__', [{ op: 'add', path: '/__proto__/polluted', value: 1 }], /\[0\]\.path/],
      ['replace __proto__ of metadata', [{ op: 'replace', path: '/metadata/__proto__', value: {} }], /\[0\]\.path/],
      ['copy from __proto__', [{ op: 'copy', from: '/spec/__proto__', path: '/spec/y' }], /\[0\]\.from/],
      ['constructor/prototype', [{ op: 'add', path: '/constructor/prototype/x', value: 1 }], /\[0\]\.path/],
    ];
    for (const kind of SERVED_KINDS) {
      const url = urlOf(kind, NS, `jp-${kind.plural}`);
      for (const [what, ops, message] of hostile) {
        const res = await jsonPatch(url, ops);
        expect([kind.plural, what, res.status, res.body.reason]).toEqual([kind.plural, what, 422, 'Invalid']);
        expect(res.body.message).toMatch(message);
      }
      expect(await rowRv(kind.kind, kind.namespaced, `jp-${kind.plural}`)).toBe(rvs.get(kind.kind));
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('a patch that changes the kind is 422 naming the field on every kind (it was a 500: the kind picks the schema)', async () => {
    const rvs = await seed('kind');
    for (const kind of SERVED_KINDS) {
      const url = urlOf(kind, NS, `kind-${kind.plural}`);
      for (const ops of [[{ op: 'replace', path: '/kind', value: 'Foo' }], [{ op: 'remove', path: '/kind' }], [{ op: 'replace', path: '/kind', value: { toString: [] } }]]) {
        const res = await jsonPatch(url, ops);
        expect([kind.plural, JSON.stringify(ops), res.status]).toEqual([kind.plural, JSON.stringify(ops), 422]);
        expect(res.body.details.causes[0]).toMatchObject({ field: 'kind', reason: 'FieldValueInvalid' });
      }
      const merged = await api.req.patch(url).set('Content-Type', 'application/merge-patch+json').send({ kind: null });
      expect([kind.plural, merged.status]).toEqual([kind.plural, 422]);
      expect(await rowRv(kind.kind, kind.namespaced, `kind-${kind.plural}`)).toBe(rvs.get(kind.kind));
    }
  });

  test('malformed operations: 400 unless a list of objects, 422 naming the operation otherwise, 413 beyond 10,000 operations', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    const created = await api.req.post(urlOf(vm, NS)).send(manifestOf(vm, 'ops')).expect(201);
    const url = urlOf(vm, NS, 'ops');
    await jsonPatch(url, { op: 'add' }).expect(400);
    await jsonPatch(url, [1]).expect(400);
    await jsonPatch(url, [[]]).expect(400);
    const cases: [unknown[], RegExp][] = [
      [[{ op: 'bogus', path: '/spec' }], /\[0\]\.op: Unsupported value: "bogus"/],
      [[{ op: 'add', path: 'spec', value: 1 }], /\[0\]\.path: Invalid value: "spec"/],
      [[{ op: 'add', path: '/spec/cpu' }], /\[0\]\.value: Required value/],
      [[{ op: 'move', path: '/spec/cpu' }], /\[0\]\.from: Required value/],
      [[{ op: 'remove' }], /\[0\]\.path: Required value/],
      [[{ op: 'replace', path: 7, value: 1 }], /\[0\]\.path: Invalid value: 7: must be a JSON pointer/],
      [[{ op: 'replace', path: '/spec/cpu', value: 2, extra: true }], /unknown field "\[0\]\.extra"/],
      [[{ op: 'remove', path: '/spec/nope' }], /could not be applied/],
      [[{ op: 'test', path: '/spec/cpu', value: 99 }], /could not be applied: Test operation failed/],
      [[{ op: 'add', path: '/spec/a/b/c', value: 1 }], /could not be applied/],
    ];
    for (const [ops, message] of cases) {
      const res = await jsonPatch(url, ops);
      expect([JSON.stringify(ops), res.status]).toEqual([JSON.stringify(ops), 422]);
      expect(res.body.message).toMatch(message);
    }
    const many = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/kind', value: 'VirtualMachine' }));
    await jsonPatch(url, many).expect(413);
    // An unknown field of an operation is only a warning when fieldValidation=Warn, as Kubernetes does.
    const warned = await api.req.patch(`${url}?fieldValidation=Warn`).set('Content-Type', 'application/json-patch+json')
      .send(JSON.stringify([{ op: 'replace', path: '/spec/cpu', value: 2, extra: true }])).expect(200);
    expect(warned.headers['warning']).toMatch(/unknown field \\"json patch \[0\]\.extra\\"/);
    expect(warned.body.metadata.resourceVersion).not.toBe(created.body.metadata.resourceVersion);
  });

  test('merge patches are objects; force is only for apply; apply configurations name their kind and carry no managedFields', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    const created = await api.req.post(urlOf(vm, NS)).send(manifestOf(vm, 'merge')).expect(201);
    const url = urlOf(vm, NS, 'merge');
    const merge = (u: string, body: string) => api.req.patch(u).set('Content-Type', 'application/merge-patch+json').send(body);
    await merge(url, '[]').expect(400);
    await merge(url, '"x"').expect(400);
    await merge(url, '{"__proto__": {"polluted": true}}').expect(200);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((await merge(`${url}?force=true`, '{"spec":{"cpu":2}}').expect(422)).body.message).toMatch(/force: Forbidden: may not be specified for non-apply patch/);
    const apply = (u: string, body: unknown) => api.req.patch(u).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify(body));
    const m = manifestOf(vm, 'merge');
    await apply(`${url}?fieldManager=t&force=maybe`, m).expect(400);
    expect((await apply(`${url}?fieldManager=t`, { ...m, apiVersion: undefined }).expect(400)).body.message).toMatch(/Incorrect version specified in apply patch/);
    expect((await apply(`${url}?fieldManager=t`, { ...m, kind: 'Volume' }).expect(400)).body.message).toMatch(/invalid object type/);
    expect((await apply(`${url}?fieldManager=t`, { ...m, metadata: { ...m.metadata, managedFields: [] } }).expect(400)).body.message).toMatch(/metadata.managedFields must be nil/);
    await apply(`${url}?fieldManager=t`, []).expect(400);
    expect((await api.req.get(url)).body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion); // nothing written
  });
});

describe('bodies', () => {
  test('a kind, apiVersion, name or namespace that is an object (String() of it throws) is a 4xx on every kind, not a 500', async () => {
    const rvs = await seed('tostr');
    const hostile = { toString: [] };
    for (const kind of SERVED_KINDS) {
      const m = manifestOf(kind, `tostr-${kind.plural}`);
      const bodies = [
        { ...m, kind: hostile }, { ...m, apiVersion: hostile }, { ...m, metadata: { ...m.metadata, name: hostile } },
        // (a cluster-scoped object's namespace is dropped, as Kubernetes clears it)
        ...(kind.namespaced ? [{ ...m, metadata: { ...m.metadata, namespace: hostile } }] : []),
      ];
      for (const body of bodies) {
        for (const [method, url, type] of [['post', urlOf(kind, NS), 'application/json'], ['put', urlOf(kind, NS, `tostr-${kind.plural}`), 'application/json'],
          ['patch', `${urlOf(kind, NS, `tostr-${kind.plural}`)}?fieldManager=t`, 'application/apply-patch+yaml']] as const) {
          const res = await api.req[method](url).set('Content-Type', type).send(JSON.stringify(body));
          expect([kind.plural, method, JSON.stringify(body), res.status < 500, res.status >= 400]).toEqual([kind.plural, method, JSON.stringify(body), true, true]);
        }
      }
      expect(await rowRv(kind.kind, kind.namespaced, `tostr-${kind.plural}`)).toBe(rvs.get(kind.kind));
    }
  });
});

describe('ListOptions and watch parameters', () => {
  test('a malformed parameter is 400 naming it, on list, watch and every kind, before anything is read', async () => {
    const bad: [string, RegExp][] = [
      ['limit=abc', /limit: Invalid value: "abc": must be an integer/],
      ['limit=1e3', /limit: Invalid value: "1e3"/],
      ['limit=99999999999999999999', /limit: Invalid value/],
      ['timeoutSeconds=soon', /timeoutSeconds: Invalid value: "soon"/],
      ['watch=yes', /watch: Invalid value: "yes": must be true or false/],
      ['allowWatchBookmarks=sure', /allowWatchBookmarks: Invalid value/],
      ['labelSelector=a%20in%20(b', /invalid labelSelector/],
      ['fieldSelector=%3D%3D', /invalid fieldSelector/],
      ['continue=x', /invalid continue token/],
      ['resourceVersion=garbage', /resourceVersion/],
      ['watch=true&resourceVersion=garbage', /resourceVersion/],
      ['continue=eyJ2IjoxfQ&resourceVersion=00000000-0000-1000-8080-808080808080', /specifying resource version is not allowed when using continue|invalid continue token/],
    ];
    for (const kind of SERVED_KINDS) {
      for (const [query, message] of bad) {
        const res = await api.req.get(`${urlOf(kind, NS)}?${query}`);
        expect([kind.plural, query, res.status, res.body.reason]).toEqual([kind.plural, query, 400, 'BadRequest']);
        expect(res.body.message).toMatch(message);
      }
    }
  });

  test('forbidden combinations are 422 Invalid ListOptions.meta.k8s.io, as Kubernetes answers with the WatchList feature off', async () => {
    const url = urlOf(SERVED_KINDS[0], NS);
    const cases: [string, RegExp][] = [
      ['resourceVersionMatch=Exact', /resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided/],
      ['resourceVersion=0&resourceVersionMatch=Sometimes', /resourceVersionMatch: Unsupported value: "Sometimes"/],
      ['resourceVersion=0&resourceVersionMatch=Exact', /forbidden for resourceVersion "0"/],
      ['sendInitialEvents=true', /sendInitialEvents is forbidden for list/],
      ['watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan', /sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled/],
      ['watch=true&resourceVersionMatch=NotOlderThan', /resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided/],
    ];
    for (const [query, message] of cases) {
      const res = await api.req.get(`${url}?${query}`);
      expect([query, res.status]).toEqual([query, 422]);
      expect(res.body).toMatchObject({ reason: 'Invalid', details: { kind: 'ListOptions', group: 'meta.k8s.io' } });
      expect(res.body.message).toMatch(message);
    }
  });

  test('well-formed parameters as Kubernetes reads them: limit=0 is no limit, watch=1 and ?watch are watches, resourceVersionMatch=NotOlderThan lists', async () => {
    const vm = SERVED_KINDS.find((k) => k.kind === 'VirtualMachine')!;
    const url = urlOf(vm, NS);
    const all = await api.req.get(`${url}?limit=0&timeoutSeconds=5`).expect(200);
    expect(all.body.metadata.continue).toBeUndefined();
    expect(all.body.items.length).toBeGreaterThan(1);
    const one = await api.req.get(`${url}?limit=1`).expect(200);
    expect(one.body.items).toHaveLength(1);
    await api.req.get(`${url}?resourceVersion=0&resourceVersionMatch=NotOlderThan&limit=%2B2`).expect(200);
    for (const q of ['watch=1', 'watch=TRUE', 'watch']) {
      const res = await new Promise<{ status: number; type: string }>((resolve, reject) => {
        const req = http.get(`${api.url}${url}?${q}&timeoutSeconds=1`, { headers: api.auth }, (r) => {
          resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']) });
          req.destroy();
        });
        req.on('error', (e) => { if (!String((e as NodeJS.ErrnoException).code).includes('ECONNRESET')) reject(e); });
      });
      expect([q, res.status]).toEqual([q, 200]);
    }
  });
});

describe('errors', () => {
  test('a request id of the caller is echoed when it is a short token, replaced otherwise', async () => {
    const mine = await api.req.get(`${API}/projects/${NS}`).set('X-Request-Id', 'abc-123').expect(200);
    expect(mine.headers['x-request-id']).toBe('abc-123');
    const weird = await api.req.get(`${API}/projects/${NS}`).set('X-Request-Id', 'x'.repeat(300)).expect(200);
    expect(weird.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await api.req.delete(`${API}/projects/${NS}`).send({ dryRun: 'All' }).expect(400);
    expect(refused.headers['x-request-id']).toBeDefined();
  });

  test('a 500 (a bug: here a store whose database client was shut down) is logged with its stack under the request id the answer names', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
    const client = createCassandraClient({ contactPoints: cassandraContactPoints() });
    await client.connect();
    const store = new ObjectStore({ client, keyspace: api.keyspace });
    await store.init();
    const { app, close } = createApp({ store, validator, logger, security: api.security });
    await client.shutdown();
    try {
      const res = await request(app.callback()).get(`${API}/namespaces/${NS}/virtualmachines/x`).set(api.auth).set('X-Request-Id', 'req-500-test');
      expect(res.status).toBe(500);
      expect(res.headers['x-request-id']).toBe('req-500-test');
      expect(res.body).toMatchObject({ kind: 'Status', reason: 'InternalError', code: 500, message: 'an internal error occurred; it has been logged (request id req-500-test)' });
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
      expect(logged).toMatchObject({ level: 50, req: 'req-500-test', requestId: 'req-500-test' });
      expect(logged.err.stack).toMatch(/\n\s+at /);
    } finally {
      close();
    }
  });
});
