// The API frontend through HTTP on the real Koa app and a real Cassandra node.
import YAML from 'yaml';
import { openTestApi, readWatch, API, type TestApi } from '../helpers/api';

let api: TestApi;
const NS = `${API}/namespaces/demo`;

const project = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: {} };
const vm = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, labels: { app: 'web' } },
  spec: { cpu: 1, memory: '1Gi', ...extra },
});

async function rowCount(kind = 'VirtualMachine'): Promise<number> {
  const rs = await api.client.execute(`SELECT name FROM ${api.keyspace}.objects WHERE kind = ? AND namespace = 'demo' AND name = 'x' ALLOW FILTERING`, [kind]);
  const all = await api.client.execute(`SELECT count(*) AS n FROM ${api.keyspace}.objects`);
  return Number(all.first()['n']) + rs.rowLength * 0;
}

beforeAll(async () => {
  api = await openTestApi('api');
  await api.req.post(`${API}/projects`).send(project).expect(201);
});
afterAll(async () => api.close());

describe('CRUD', () => {
  test('POST creates (201) with defaults, GET reads it back, a second POST is 409 AlreadyExists', async () => {
    const res = await api.req.post(`${NS}/virtualmachines`).send(vm('web-1')).expect(201);
    expect(res.body.metadata).toMatchObject({ name: 'web-1', namespace: 'demo', generation: 1 });
    expect(res.body.spec.runStrategy).toBe('Always');
    expect(res.body.status).toBeUndefined();
    const got = await api.req.get(`${NS}/virtualmachines/web-1`).expect(200);
    expect(got.body.metadata.resourceVersion).toBe(res.body.metadata.resourceVersion);
    const dup = await api.req.post(`${NS}/virtualmachines`).send(vm('web-1')).expect(409);
    expect(dup.body).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409 });
  });

  test('YAML in and YAML out', async () => {
    await api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'application/yaml').send(YAML.stringify(vm('yaml-1'))).expect(201);
    const res = await api.req.get(`${NS}/virtualmachines/yaml-1`).set('Accept', 'application/yaml').expect(200);
    expect(res.headers['content-type']).toMatch(/yaml/);
    expect(YAML.parse(res.text).metadata.name).toBe('yaml-1');
  });

  test('PUT with a stale resourceVersion is 409 Conflict; with the current one it bumps generation', async () => {
    const cur = (await api.req.get(`${NS}/virtualmachines/web-1`)).body;
    const upd = await api.req.put(`${NS}/virtualmachines/web-1`).send({ ...cur, spec: { ...cur.spec, cpu: 2 } }).expect(200);
    expect(upd.body.metadata.generation).toBe(2);
    const stale = await api.req.put(`${NS}/virtualmachines/web-1`).send({ ...cur, spec: { ...cur.spec, cpu: 3 } }).expect(409);
    expect(stale.body.reason).toBe('Conflict');
    const noRv = await api.req.put(`${NS}/virtualmachines/web-1`).send({ ...cur, metadata: { ...cur.metadata, resourceVersion: undefined } }).expect(422);
    expect(noRv.body.details.causes[0].field).toBe('metadata.resourceVersion');
  });

  test('merge patch and JSON patch change spec; the status subresource changes only status', async () => {
    const mp = await api.req.patch(`${NS}/virtualmachines/web-1`).set('Content-Type', 'application/merge-patch+json').send({ spec: { memory: '2Gi' } }).expect(200);
    expect(mp.body.spec.memory).toBe('2Gi');
    const jp = await api.req.patch(`${NS}/virtualmachines/web-1`).set('Content-Type', 'application/json-patch+json').send([{ op: 'replace', path: '/spec/cpu', value: 4 }]).expect(200);
    expect(jp.body.spec.cpu).toBe(4);
    const gen = jp.body.metadata.generation;
    const st = await api.req.patch(`${NS}/virtualmachines/web-1/status`).set('Content-Type', 'application/merge-patch+json')
      .send({ status: { phase: 'Running', host: 'hv-1' }, spec: { cpu: 64 } }).expect(200);
    expect(st.body.status).toMatchObject({ phase: 'Running', host: 'hv-1' });
    expect(st.body.spec.cpu).toBe(4);
    expect(st.body.metadata.generation).toBe(gen);
    // and a main-resource write cannot change status
    const sneaky = await api.req.patch(`${NS}/virtualmachines/web-1`).set('Content-Type', 'application/merge-patch+json').send({ status: { phase: 'Failed' } }).expect(200);
    expect(sneaky.body.status.phase).toBe('Running');
    await api.req.patch(`${NS}/virtualmachines/web-1`).set('Content-Type', 'application/strategic-merge-patch+json').send({}).expect(415);
  });

  test('list with labelSelector, limit and continue returns a List with a resourceVersion', async () => {
    for (let i = 0; i < 5; i++) await api.req.post(`${NS}/virtualmachines`).send({ ...vm(`page-${i}`), metadata: { name: `page-${i}`, labels: { app: 'pager' } } }).expect(201);
    const p1 = await api.req.get(`${NS}/virtualmachines?labelSelector=app%3Dpager&limit=2`).expect(200);
    expect(p1.body.kind).toBe('VirtualMachineList');
    expect(p1.body.metadata.resourceVersion).toBeTruthy();
    expect(p1.body.items).toHaveLength(2);
    const names = p1.body.items.map((o: any) => o.metadata.name);
    let cont = p1.body.metadata.continue;
    while (cont) {
      const p = await api.req.get(`${NS}/virtualmachines?labelSelector=app%3Dpager&limit=2&continue=${encodeURIComponent(cont)}`).expect(200);
      names.push(...p.body.items.map((o: any) => o.metadata.name));
      cont = p.body.metadata.continue;
    }
    expect(names).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const all = await api.req.get(`${API}/virtualmachines?fieldSelector=metadata.name%3Dpage-3`).expect(200);
    expect(all.body.items.map((o: any) => o.metadata.name)).toEqual(['page-3']);
  });

  test('a Table is served to kubectl-style Accept headers', async () => {
    const res = await api.req.get(`${NS}/virtualmachines`).set('Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json').expect(200);
    expect(res.body.kind).toBe('Table');
    expect(res.body.columnDefinitions[0].name).toBe('Name');
    expect(res.body.rows.length).toBeGreaterThan(0);
  });

  test('DELETE with finalizers sets deletionTimestamp; removing them deletes; then 404', async () => {
    await api.req.post(`${NS}/virtualmachines`).send({ ...vm('fin'), metadata: { name: 'fin', finalizers: ['stratuslab.eu/agent'] } }).expect(201);
    const del = await api.req.delete(`${NS}/virtualmachines/fin`).send({ propagationPolicy: 'Background' }).expect(200);
    expect(del.body.metadata.deletionTimestamp).toBeTruthy();
    await api.req.patch(`${NS}/virtualmachines/fin`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { finalizers: null } }).expect(200);
    await api.req.get(`${NS}/virtualmachines/fin`).expect(404);
    const again = await api.req.delete(`${NS}/virtualmachines/fin`).expect(404);
    expect(again.body.reason).toBe('NotFound');
  });
});

describe('Kubernetes request options', () => {
  test('fieldValidation=Warn drops unknown fields with a Warning header; Ignore drops them silently', async () => {
    const warn = await api.req.post(`${NS}/virtualmachines?fieldValidation=Warn`).send(vm('warned', { bogus: 1 })).expect(201);
    expect(warn.headers['warning']).toMatch(/unknown field \\"spec.bogus\\"/);
    expect(warn.body.spec.bogus).toBeUndefined();
    const ignore = await api.req.post(`${NS}/virtualmachines?fieldValidation=Ignore`).send(vm('ignored', { bogus: 1 })).expect(201);
    expect(ignore.headers['warning']).toBeUndefined();
    await api.req.post(`${NS}/virtualmachines?fieldValidation=Sometimes`).send(vm('x')).expect(400);
  });

  test('dryRun=All validates and answers without writing', async () => {
    const r = await api.req.post(`${NS}/virtualmachines?dryRun=All`).send(vm('dry')).expect(201);
    expect(r.body.metadata.name).toBe('dry');
    await api.req.get(`${NS}/virtualmachines/dry`).expect(404);
    await api.req.delete(`${NS}/virtualmachines/warned?dryRun=All`).expect(200);
    await api.req.get(`${NS}/virtualmachines/warned`).expect(200);
  });

  test('DeleteOptions preconditions are honoured, and deletecollection removes what the selector matches', async () => {
    const cur = (await api.req.get(`${NS}/virtualmachines/ignored`)).body;
    const stale = await api.req.delete(`${NS}/virtualmachines/ignored`).send({ preconditions: { uid: 'someone-else' } }).expect(409);
    expect(stale.body.message).toMatch(/Precondition failed/);
    await api.req.delete(`${NS}/virtualmachines/ignored`).send({ preconditions: { uid: cur.metadata.uid, resourceVersion: cur.metadata.resourceVersion } }).expect(200);
    await api.req.patch(`${NS}/virtualmachines/warned`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { labels: { sweep: 'yes' } } }).expect(200);
    const swept = await api.req.delete(`${NS}/virtualmachines?labelSelector=sweep%3Dyes`).expect(200);
    expect(swept.body.items.map((o: any) => o.metadata.name)).toEqual(['warned']);
    await api.req.get(`${NS}/virtualmachines/warned`).expect(404);
  });
});

describe('bad input gets a 4xx naming the problem and writes nothing', () => {
  const cases: [string, () => any, number, RegExp][] = [
    ['malformed YAML', () => api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'application/yaml').send('metadata: {name: x\nspec: [1, 2'), 400, /YAML/],
    ['malformed JSON', () => api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'application/json').send('{"metadata": '), 400, /JSON/],
    ['a YAML alias bomb', () => api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'application/yaml').send(
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nmetadata: {name: x}\n'), 400, /alias/i],
    ['a wrong type', () => api.req.post(`${NS}/virtualmachines`).send(vm('x', { cpu: 'two' })), 422, /spec\.cpu/],
    ['an unknown field', () => api.req.post(`${NS}/virtualmachines`).send(vm('x', { bogus: 1 })), 422, /spec\.bogus/],
    ['an Image whose sha256 is not 64 lowercase hex digits', () => api.req.post(`${NS}/images`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'x' }, spec: { source: { path: '/i.qcow2', sha256: 'ABC' } } }), 422, /spec\.source\.sha256: Invalid value: "ABC": must be a SHA-256 sum/],
    ['an unknown kind', () => api.req.post(`${NS}/widgets`).send(vm('x')), 404, /could not find/],
    ['a kind that does not match the URL', () => api.req.post(`${NS}/volumes`).send(vm('x')), 400, /kind/],
    ['an invalid name', () => api.req.post(`${NS}/virtualmachines`).send({ ...vm('x'), metadata: { name: 'Bad_Name' } }), 422, /metadata\.name/],
    ['a too long name', () => api.req.post(`${NS}/virtualmachines`).send({ ...vm('x'), metadata: { name: 'a'.repeat(64) } }), 422, /metadata\.name/],
    ['a namespace mismatch', () => api.req.post(`${NS}/virtualmachines`).send({ ...vm('x'), metadata: { name: 'x', namespace: 'other' } }), 400, /namespace/],
    ['a missing project', () => api.req.post(`${API}/namespaces/nope/virtualmachines`).send(vm('x')), 404, /namespaces "nope" not found/],
    ['an oversize body', () => api.req.post(`${NS}/virtualmachines`).send({ ...vm('x'), metadata: { name: 'x', annotations: { big: 'y'.repeat(300 * 1024) } } }), 413, /^Request entity too large: limit is \d+$/],
    ['an unsupported media type', () => api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'text/plain').send('hello'), 415, /media type/],
    ['two documents in one body', () => api.req.post(`${NS}/virtualmachines`).set('Content-Type', 'application/yaml').send('metadata: {name: x}\n---\nmetadata: {name: y}\n'), 400, /exactly one/],
    ['a bad label selector', () => api.req.get(`${NS}/virtualmachines?labelSelector=a%20in%20(b`), 400, /labelSelector/],
  ];
  test.each(cases)('%s', async (_name, send, code, message) => {
    const before = await rowCount();
    const res = await send();
    expect(res.status).toBe(code);
    expect(res.body.kind).toBe('Status');
    expect(res.body.code).toBe(code);
    expect(res.body.message).toMatch(message);
    expect(res.body.message).not.toMatch(/at .*\.ts:\d+/);
    expect(await rowCount()).toBe(before);
    await api.req.get(`${NS}/virtualmachines/x`).expect(404);
  });
});

describe('apply', () => {
  const applyPatch = (name: string, body: unknown, manager = 'stratus') =>
    api.req.patch(`${NS}/virtualmachines/${name}?fieldManager=${manager}`).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify(body));

  test('apply creates (201), is a no-op when unchanged (same resourceVersion), and updates when changed', async () => {
    const m = vm('applied');
    const c = await applyPatch('applied', m).expect(201);
    const again = await applyPatch('applied', m).expect(200);
    expect(again.body.metadata.resourceVersion).toBe(c.body.metadata.resourceVersion);
    expect(again.body.metadata.generation).toBe(1);
    const changed = await applyPatch('applied', { ...m, spec: { ...m.spec, cpu: 2 } }).expect(200);
    expect(changed.body.metadata.generation).toBe(2);
    expect(changed.body.metadata.resourceVersion).not.toBe(c.body.metadata.resourceVersion);
  });

  test('apply rejects unknown fields in the manifest with 422 naming the field, and creates nothing', async () => {
    const r = await applyPatch('strict-1', vm('strict-1', { bogus: true })).expect(422);
    expect(r.body.details.causes.map((c: any) => c.field)).toContain('spec.bogus');
    await api.req.get(`${NS}/virtualmachines/strict-1`).expect(404);
  });

  test('apply conflicts with another manager unless forced', async () => {
    await api.req.patch(`${NS}/virtualmachines/applied?fieldManager=someone-else`).set('Content-Type', 'application/merge-patch+json').send({ spec: { cpu: 3 } }).expect(200);
    const conflict = await applyPatch('applied', { ...vm('applied'), spec: { cpu: 2, memory: '1Gi' } }).expect(409);
    expect(conflict.body.message).toMatch(/conflict with "someone-else"/);
    expect(conflict.body.details.causes[0]).toMatchObject({ reason: 'FieldManagerConflict', field: '.spec.cpu' });
    const forced = await api.req.patch(`${NS}/virtualmachines/applied?fieldManager=stratus&force=true`).set('Content-Type', 'application/apply-patch+yaml')
      .send(JSON.stringify({ ...vm('applied'), spec: { cpu: 2, memory: '1Gi' } })).expect(200);
    expect(forced.body.spec.cpu).toBe(2);
  });
});

describe('watch', () => {
  test('a watch from a list resourceVersion streams ADDED, MODIFIED and DELETED in order, with bookmarks', async () => {
    const list = await api.req.get(`${API}/namespaces/demo/volumes`).expect(200);
    const rv = list.body.metadata.resourceVersion;
    const w = readWatch(`${api.url}${API}/namespaces/demo/volumes?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`,
      (ev) => ev.some((e) => e.type === 'DELETED') && ev.some((e) => e.type === 'BOOKMARK'), 15000, api.auth);
    const vol = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'w1' }, spec: { size: '1Gi' } };
    await api.req.post(`${NS}/volumes`).send(vol).expect(201);
    await api.req.patch(`${NS}/volumes/w1`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { labels: { a: 'b' } } }).expect(200);
    await api.req.delete(`${NS}/volumes/w1`).expect(200);
    const { status, events } = await w;
    expect(status).toBe(200);
    // Events of the overlap window before the list may be replayed (clients tolerate that); w1's are exact.
    const types = events.filter((e) => e.type !== 'BOOKMARK' && e.object.metadata.name === 'w1').map((e) => e.type);
    expect(types).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(events.find((e) => e.type === 'BOOKMARK').object.metadata.resourceVersion).toBeTruthy();
  });

  test('a label-selector watch sees an object leave the selection as DELETED and come back as ADDED', async () => {
    const list = await api.req.get(`${API}/namespaces/demo/volumes`).expect(200);
    const rv = list.body.metadata.resourceVersion;
    const w = readWatch(`${api.url}${API}/namespaces/demo/volumes?watch=true&resourceVersion=${rv}&labelSelector=tier%3Dgold`,
      (ev) => ev.filter((e) => e.object.metadata.name === 'sel-1').length >= 5, 15000, api.auth);
    const label = (tier: string | null, extra: Record<string, string | null> = {}) =>
      api.req.patch(`${NS}/volumes/sel-1`).set('Content-Type', 'application/merge-patch+json').send({ metadata: { labels: { tier, ...extra } } }).expect(200);
    await api.req.post(`${NS}/volumes`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'sel-1', labels: { tier: 'gold' } }, spec: { size: '1Gi' } }).expect(201);
    await label('gold', { note: 'x' }); // still matches: MODIFIED
    await label('silver'); // leaves: DELETED
    await label('silver', { note: 'y' }); // not selected: nothing
    await label('gold'); // comes back: ADDED
    await api.req.delete(`${NS}/volumes/sel-1`).expect(200); // DELETED
    const { events } = await w;
    const mine = events.filter((e) => e.object.metadata.name === 'sel-1').map((e) => `${e.type} ${e.object.metadata.labels?.tier}`);
    expect(mine).toEqual(['ADDED gold', 'MODIFIED gold', 'DELETED silver', 'ADDED gold', 'DELETED gold']);
  });

  test('a watch without resourceVersion starts with the current objects as ADDED, filtered by fieldSelector', async () => {
    const { events } = await readWatch(`${api.url}${NS}/virtualmachines?watch=true&fieldSelector=metadata.name%3Dweb-1`, (ev) => ev.length >= 1, 5000, api.auth);
    expect(events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'web-1' } } });
  });

  test('a too old resourceVersion gets an ERROR event with a 410 Expired Status', async () => {
    const old = '00000000-0000-1000-8080-808080808080';
    const { events } = await readWatch(`${api.url}${NS}/virtualmachines?watch=true&resourceVersion=${old}`, (ev) => ev.length >= 1, 5000, api.auth);
    expect(events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
  });
});

describe('operations endpoints', () => {
  test('healthz, readyz and Prometheus metrics answer', async () => {
    await api.req.get('/healthz').expect(200);
    await api.req.get('/readyz').expect(200);
    const m = await api.req.get('/metrics').expect(200);
    expect(m.text).toMatch(/stratus_apiserver_requests_total\{verb="create",resource="virtualmachines",code="201"\}/);
  });

  test('discovery and the Namespace view of Projects answer as kubectl expects', async () => {
    const agg = await api.req.get('/apis').set('Accept', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json').expect(200);
    expect(agg.headers['content-type']).toMatch(/^application\/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList/);
    const ns = await api.req.get('/api/v1/namespaces/demo').expect(200);
    expect(ns.body).toMatchObject({ kind: 'Namespace', metadata: { name: 'demo' }, status: { phase: 'Active' } });
    await api.req.get('/api/v1/namespaces/nope').expect(404);
    await api.req.get('/openapi/v3').expect(200);
  });
});
