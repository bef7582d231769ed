// core/v1 Events through the real Koa app: lists with kubectl's field selectors, get, Tables,
// paging, watch from a list's resourceVersion, read-only (405, nothing written), and authorization
// as for every namespaced kind (a project's viewers read its Events; others get 403 or nothing;
// the events of Hosts are for administrators).
import pino from 'pino';
import { openTestApi, readWatch, API, type TestApi } from '../helpers/api';
import { EventBroadcaster } from '../../runtime/events';
import { EventRepository } from '../../store/events';

let api: TestApi;
let events: EventBroadcaster;
let stopEvents: () => Promise<void>;
let viewer: string;
let stranger: string;
const V = 'stratuslab.eu/v1alpha1';
const scheduler = { component: 'stratus-scheduler', controller: 'stratuslab.eu/scheduler', instance: 'replica-0' };
const agent = { component: 'stratus-agent', host: 'hv-1', controller: 'stratuslab.eu/agent', instance: 'hv-1' };
let web: any;

async function record(fn: () => void): Promise<void> {
  fn();
  await events.flush();
}

beforeAll(async () => {
  api = await openTestApi('events');
  events = new EventBroadcaster({ sink: new EventRepository({ client: api.client, keyspace: api.keyspace, feed: api.store.feed }), logger: pino({ level: 'silent' }) });
  const ac = new AbortController();
  const done = events.start(ac.signal);
  stopEvents = async () => { ac.abort(); await done; };
  viewer = await api.tokenFor('vera');
  stranger = await api.tokenFor('stan');
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'demo' }, spec: { members: [{ user: 'vera', role: 'viewer' }] } }).expect(201);
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'other' }, spec: { members: [] } }).expect(201);
  web = (await api.req.post(`${API}/namespaces/demo/virtualmachines`).send({ apiVersion: V, kind: 'VirtualMachine', metadata: { name: 'web-1' }, spec: { cpu: 1, memory: '1Gi' } }).expect(201)).body;
  const other = (await api.req.post(`${API}/namespaces/other/virtualmachines`).send({ apiVersion: V, kind: 'VirtualMachine', metadata: { name: 'db-1' }, spec: { cpu: 1, memory: '1Gi' } }).expect(201)).body;
  const host = (await api.req.post(`${API}/hosts`).send({ apiVersion: V, kind: 'Host', metadata: { name: 'hv-1' }, spec: {} }).expect(201)).body;
  await record(() => {
    events.recorder(scheduler).event(web, 'Normal', 'Scheduled', 'Successfully assigned demo/web-1 to hv-1');
    events.recorder(agent).event(web, 'Normal', 'Started', 'started the domain demo.web-1 on host hv-1');
    events.recorder(agent).event(web, 'Normal', 'Started', 'started the domain demo.web-1 on host hv-1');
    events.recorder(scheduler).event(other, 'Warning', 'FailedScheduling', '0/4 hosts fit: 3 insufficient cpu, 1 untolerated taint');
    events.recorder(agent).event(host, 'Warning', 'Fenced', 'host hv-1 could not renew its lease for 30s: stopped its domains');
  });
}, 60000);
afterAll(async () => {
  await stopEvents?.();
  await api?.close();
});

describe('reads', () => {
  test('kubectl describe\'s query: the events of one object, by name, namespace, kind and uid', async () => {
    const sel = `involvedObject.name=web-1,involvedObject.namespace=demo,involvedObject.kind=VirtualMachine,involvedObject.uid=${web.metadata.uid}`;
    const r = await api.req.get('/api/v1/namespaces/demo/events').query({ fieldSelector: sel, limit: 500 }).expect(200);
    expect(r.body).toMatchObject({ kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: expect.any(String) } });
    const byReason = Object.fromEntries(r.body.items.map((e: any) => [e.reason, e]));
    expect(Object.keys(byReason).sort()).toEqual(['Scheduled', 'Started']);
    expect(byReason.Started).toMatchObject({ apiVersion: 'v1', kind: 'Event', count: 2, type: 'Normal', source: { component: 'stratus-agent', host: 'hv-1' } });
    expect(byReason.Scheduled.involvedObject).toEqual({ apiVersion: V, kind: 'VirtualMachine', namespace: 'demo', name: 'web-1', uid: web.metadata.uid });
    const wrongUid = await api.req.get('/api/v1/namespaces/demo/events').query({ fieldSelector: 'involvedObject.name=web-1,involvedObject.uid=another' }).expect(200);
    expect(wrongUid.body.items).toEqual([]);
    const warnings = await api.req.get('/api/v1/namespaces/demo/events').query({ fieldSelector: 'type=Warning' }).expect(200);
    expect(warnings.body.items).toEqual([]);
  });

  test('get by name, 404 for another; an unsupported field selector is a 400 naming it', async () => {
    const list = await api.req.get('/api/v1/namespaces/demo/events').expect(200);
    const name = list.body.items[0].metadata.name;
    const one = await api.req.get(`/api/v1/namespaces/demo/events/${name}`).expect(200);
    expect(one.body.metadata).toMatchObject({ name, namespace: 'demo' });
    const missing = await api.req.get('/api/v1/namespaces/demo/events/web-1.0000000000000000').expect(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'events "web-1.0000000000000000" not found' });
    const bad = await api.req.get('/api/v1/namespaces/demo/events').query({ fieldSelector: 'spec.cpu=1' }).expect(400);
    expect(bad.body.message).toMatch(/field label not supported: spec\.cpu/);
  });

  test('kubectl get events gets kube-apiserver\'s Table', async () => {
    const r = await api.req.get('/api/v1/namespaces/demo/events').set('Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json').expect(200);
    expect(r.body.kind).toBe('Table');
    expect(r.body.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name)).toEqual(['Last Seen', 'Type', 'Reason', 'Object', 'Message']);
    // what kubectl prints without -o wide: the priority-0 columns, after Last Seen
    const shown = r.body.columnDefinitions.map((c: any, i: number) => (c.priority === 0 ? i : -1)).filter((i: number) => i > 0);
    const cells = r.body.rows.map((row: any) => shown.map((i: number) => row.cells[i]));
    expect(cells).toEqual(expect.arrayContaining([
      ['Normal', 'Scheduled', 'virtualmachine/web-1', 'Successfully assigned demo/web-1 to hv-1'],
      ['Normal', 'Started', 'virtualmachine/web-1', 'started the domain demo.web-1 on host hv-1'],
    ]));
    expect(r.body.rows[0].object.kind).toBe('PartialObjectMetadata');
  });

  test('all namespaces: administrators see every project\'s events and the Hosts\'; pages follow continue tokens', async () => {
    const all = await api.req.get('/api/v1/events').expect(200);
    expect(all.body.items.map((e: any) => e.reason).sort()).toEqual(['FailedScheduling', 'Fenced', 'Scheduled', 'Started']);
    const hosts = await api.req.get('/api/v1/events').query({ fieldSelector: 'involvedObject.kind=Host,involvedObject.name=hv-1,involvedObject.namespace=' }).expect(200);
    expect(hosts.body.items.map((e: any) => e.reason)).toEqual(['Fenced']);
    const seen: string[] = [];
    let cont: string | undefined;
    do {
      const page = await api.req.get('/api/v1/events').query({ limit: 1, ...(cont ? { continue: cont } : {}) }).expect(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((e: any) => e.reason));
      cont = page.body.metadata.continue;
    } while (cont);
    expect(seen.sort()).toEqual(['FailedScheduling', 'Fenced', 'Scheduled', 'Started']);
  });

  test('a watch from a list\'s resourceVersion sees a new event ADDED and a repeat MODIFIED', async () => {
    const list = await api.req.get('/api/v1/namespaces/demo/events').expect(200);
    const rv = list.body.metadata.resourceVersion;
    const w = readWatch(`${api.url}/api/v1/namespaces/demo/events?watch=true&resourceVersion=${rv}&fieldSelector=involvedObject.name%3Dweb-1`,
      (ev) => ev.filter((e) => e.object.reason === 'Stopped').length >= 2, 15000, api.auth);
    await new Promise((r) => setTimeout(r, 300));
    await record(() => events.recorder(agent).event(web, 'Normal', 'Stopped', 'runStrategy is Halted: the domain is stopped'));
    await record(() => events.recorder(agent).event(web, 'Normal', 'Stopped', 'runStrategy is Halted: the domain is stopped'));
    const { status, events: got } = await w;
    expect(status).toBe(200);
    const stopped = got.filter((e) => e.object.reason === 'Stopped');
    expect(stopped.map((e) => [e.type, e.object.count])).toEqual([['ADDED', 1], ['MODIFIED', 2]]);
  });

  test('kubectl get events -w: watch events carry one-row Tables, headers on the first only', async () => {
    const list = await api.req.get('/api/v1/namespaces/demo/events').expect(200);
    const w = readWatch(`${api.url}/api/v1/namespaces/demo/events?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
      (ev) => ev.filter((e) => e.object.rows?.[0]?.cells[2] === 'Crashed').length >= 2, 15000,
      { ...api.auth, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    await new Promise((r) => setTimeout(r, 300));
    await record(() => events.recorder(agent).event(web, 'Warning', 'Crashed', 'the domain demo.web-1 crashed on host hv-1; restarting it'));
    await record(() => events.recorder(agent).event(web, 'Warning', 'Crashed', 'the domain demo.web-1 crashed on host hv-1; restarting it'));
    const { events: got } = await w;
    const tables = got.filter((e) => e.type !== 'BOOKMARK').map((e) => e.object);
    expect(new Set(tables.map((t) => t.kind))).toEqual(new Set(['Table']));
    expect(tables[0].columnDefinitions.length).toBe(10);
    expect(tables.slice(1).every((t) => t.columnDefinitions.length === 0)).toBe(true);
    const crashed = tables.filter((t) => t.rows[0].cells[2] === 'Crashed').map((t) => t.rows[0].cells);
    expect(crashed.map((c) => [c[1], c[3], c[8]])).toEqual([['Warning', 'virtualmachine/web-1', 1], ['Warning', 'virtualmachine/web-1', 2]]);
  });
});

describe('read-only, authorized as every namespaced kind', () => {
  test('writes answer 405 and write nothing', async () => {
    const before = (await api.req.get('/api/v1/namespaces/demo/events').expect(200)).body.items.length;
    const ev = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1', namespace: 'demo' }, involvedObject: { kind: 'VirtualMachine', name: 'x' }, reason: 'Fake', message: 'm' };
    const post = await api.req.post('/api/v1/namespaces/demo/events').send(ev).expect(405);
    expect(post.body).toMatchObject({ kind: 'Status', code: 405 });
    const name = (await api.req.get('/api/v1/namespaces/demo/events').expect(200)).body.items[0].metadata.name;
    await api.req.delete(`/api/v1/namespaces/demo/events/${name}`).expect(405);
    await api.req.delete('/api/v1/namespaces/demo/events').expect(405);
    await api.req.patch(`/api/v1/namespaces/demo/events/${name}`).set('Content-Type', 'application/merge-patch+json').send({ message: 'x' }).expect(405);
    expect((await api.req.get('/api/v1/namespaces/demo/events').expect(200)).body.items).toHaveLength(before);
  });

  test('a project\'s viewer reads its events; not another project\'s, nor the Hosts\'; a stranger gets 403', async () => {
    const mine = await api.as(viewer).get('/api/v1/namespaces/demo/events').expect(200);
    expect(mine.body.items.length).toBeGreaterThan(0);
    const forbidden = await api.as(viewer).get('/api/v1/namespaces/other/events').expect(403);
    expect(forbidden.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    const all = await api.as(viewer).get('/api/v1/events').expect(200);
    expect(new Set(all.body.items.map((e: any) => e.metadata.namespace))).toEqual(new Set(['demo']));
    await api.as(stranger).get('/api/v1/namespaces/demo/events').expect(403);
    expect((await api.as(stranger).get('/api/v1/events').expect(200)).body.items).toEqual([]);
    await api.anon.get('/api/v1/namespaces/demo/events').expect(401);
  });

  test('discovery lists events in core v1 (aggregated and legacy)', async () => {
    const legacy = await api.req.get('/api/v1').expect(200);
    expect(legacy.body.resources.find((r: any) => r.name === 'events')).toMatchObject({ kind: 'Event', namespaced: true, verbs: ['get', 'list', 'watch'] });
    const agg = await api.req.get('/api').set('Accept', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList').expect(200);
    const body = JSON.parse(agg.text);
    expect(body.items[0].versions[0].resources.map((r: any) => r.resource)).toEqual(['namespaces', 'events']);
  });
});
