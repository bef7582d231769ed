// The VM actions on the real API app and Cassandra: PUT (or POST) …/virtualmachines/NAME/start|stop|
// restart change spec.runStrategy (Always/Halted, generation up) or add status.stateChangeRequests
// (Manual, restarts), answer 409 with the reason when impossible, 403 for viewers, 400 for bad
// options, and write nothing then; dryRun writes nothing either; concurrent actions are compare-and-set.
import { openTestApi, API, type TestApi } from '../helpers/api';

let api: TestApi;
let viewer: string;
let editor: string;
const V = 'stratuslab.eu/v1alpha1';
const NS = `${API}/namespaces/demo/virtualmachines`;

beforeAll(async () => {
  api = await openTestApi('vmactions');
  viewer = await api.tokenFor('vera');
  editor = await api.tokenFor('eddie');
  await api.req.post(`${API}/projects`).send({
    apiVersion: V, kind: 'Project', metadata: { name: 'demo' },
    spec: { members: [{ user: 'vera', role: 'viewer' }, { user: 'eddie', role: 'editor' }] },
  }).expect(201);
}, 60000);
afterAll(async () => api.close());

/** A VM with a runStrategy and (as its agent would report) a phase. */
async function vm(name: string, runStrategy: string, phase?: string): Promise<any> {
  await api.req.post(NS).send({ apiVersion: V, kind: 'VirtualMachine', metadata: { name }, spec: { cpu: 1, memory: '1Gi', runStrategy } }).expect(201);
  if (phase) {
    await api.req.patch(`${NS}/${name}/status`).set('Content-Type', 'application/merge-patch+json').send({ status: { phase, host: 'hv-1' } }).expect(200);
  }
  return get(name);
}

async function get(name: string): Promise<any> {
  return (await api.req.get(`${NS}/${name}`).expect(200)).body;
}

test('stop on an Always VM sets runStrategy Halted: generation up, the action recorded as a field manager', async () => {
  const before = await vm('always-1', 'Always', 'Running');
  const res = await api.as(editor).put(`${NS}/always-1/stop`).set('User-Agent', 'stratus/test').expect(202);
  expect(res.body).toMatchObject({
    kind: 'Status', apiVersion: 'v1', status: 'Success', code: 202,
    message: 'runStrategy changed from Always to Halted: the VM will stop',
    details: { name: 'always-1', group: 'stratuslab.eu', kind: 'virtualmachines' },
  });
  const after = await get('always-1');
  expect(after.spec.runStrategy).toBe('Halted');
  expect(after.metadata.generation).toBe(before.metadata.generation + 1);
  expect(after.status.stateChangeRequests).toBeUndefined();
  const entry = after.metadata.managedFields.find((m: any) => m.manager === 'stratus' && m.operation === 'Update' && !m.subresource);
  expect(entry.fieldsV1).toEqual({ 'f:spec': { 'f:runStrategy': {} } });

  // start on the Halted VM sets it back to Always (POST works as PUT)
  const started = await api.as(editor).post(`${NS}/always-1/start`).expect(202);
  expect(started.body.message).toBe('runStrategy changed from Halted to Always: the VM will start');
  const again = await get('always-1');
  expect(again.spec.runStrategy).toBe('Always');
  expect(again.metadata.generation).toBe(before.metadata.generation + 2);
});

test('stop with a grace period: Halted plus a Stop request carrying it, in one write', async () => {
  const before = await vm('grace-1', 'RerunOnFailure', 'Running');
  await api.as(editor).put(`${NS}/grace-1/stop`).send({ gracePeriodSeconds: 0 }).expect(202);
  const after = await get('grace-1');
  expect(after.spec.runStrategy).toBe('Halted');
  expect(after.status.stateChangeRequests).toEqual([{
    action: 'Stop', uid: before.metadata.uid, id: expect.stringMatching(/^[0-9a-f-]{36}$/), requestTime: expect.any(String), gracePeriodSeconds: 0, user: 'eddie',
  }]);
  // the spec write and the status write are one compare-and-set: one new resourceVersion
  expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
});

test('Manual start, stop and restart add requests to status (generation unchanged); the requests queue in order', async () => {
  const before = await vm('manual-1', 'Manual', 'Stopped');
  const start = await api.as(editor).put(`${NS}/manual-1/start`).expect(202);
  expect(start.body.message).toBe('start requested: its agent will boot the VM');
  let cur = await get('manual-1');
  expect(cur.metadata.generation).toBe(before.metadata.generation);
  expect(cur.spec.runStrategy).toBe('Manual');
  expect(cur.status.stateChangeRequests).toEqual([{ action: 'Start', uid: before.metadata.uid, id: expect.any(String), requestTime: expect.any(String), user: 'eddie' }]);
  // a restart may follow the start; a second start may not
  await api.as(editor).put(`${NS}/manual-1/restart`).send({ gracePeriodSeconds: 3 }).expect(202);
  const dup = await api.as(editor).put(`${NS}/manual-1/start`).expect(409);
  expect(dup.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409 });
  expect(dup.body.message).toMatch(/VM is already running once its 2 waiting request\(s\) are carried out/);
  cur = await get('manual-1');
  expect(cur.status.stateChangeRequests.map((r: any) => [r.action, r.gracePeriodSeconds])).toEqual([['Start', undefined], ['Restart', 3]]);
  // a stop replaces what waits
  await api.as(editor).put(`${NS}/manual-1/stop`).expect(202);
  cur = await get('manual-1');
  expect(cur.status.stateChangeRequests.map((r: any) => r.action)).toEqual(['Stop']);
  expect(cur.metadata.generation).toBe(before.metadata.generation);
});

test('impossible actions are 409 with the reason, and write nothing', async () => {
  await vm('run-1', 'Always', 'Running');
  await vm('halt-1', 'Halted', 'Stopped');
  await vm('off-1', 'Manual', 'Stopped');
  const cases: [string, string, RegExp][] = [
    ['run-1', 'start', /"run-1": VM is already running \(runStrategy Always keeps it running\)$/],
    ['halt-1', 'stop', /"halt-1": VM is not running \(runStrategy Halted, Stopped\)$/],
    ['halt-1', 'restart', /runStrategy Halted does not allow a restart: the VM is stopped; start it instead/],
    ['off-1', 'stop', /"off-1": VM is not running$/],
    ['off-1', 'restart', /"off-1": VM is not running \(Stopped\): start it instead$/],
  ];
  for (const [name, action, message] of cases) {
    const before = await get(name);
    const res = await api.as(editor).put(`${NS}/${name}/${action}`).expect(409);
    expect(res.body).toMatchObject({ reason: 'Conflict', details: { name, kind: 'virtualmachines' } });
    expect(res.body.message).toMatch(message);
    expect((await get(name)).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  }
});

test('a viewer gets 403 on every action and nothing is written; a stranger too; an editor may', async () => {
  const before = await vm('viewed-1', 'Always', 'Running');
  for (const action of ['start', 'stop', 'restart']) {
    const res = await api.as(viewer).put(`${NS}/viewed-1/${action}`).expect(403);
    expect(res.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(res.body.message).toBe(`virtualmachines.stratuslab.eu "viewed-1" is forbidden: User "vera" cannot update resource "virtualmachines/${action}" in API group "stratuslab.eu" in the namespace "demo"`);
  }
  const stranger = await api.tokenFor('stranger');
  await api.as(stranger).put(`${NS}/viewed-1/stop`).expect(403);
  await api.anon.put(`${NS}/viewed-1/stop`).expect(401);
  const after = await get('viewed-1');
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  expect(after.spec.runStrategy).toBe('Always');
  await api.as(editor).put(`${NS}/viewed-1/restart`).expect(202);
});

test('dryRun (query or body) answers as the action would and writes nothing', async () => {
  const before = await vm('dry-1', 'Always', 'Running');
  const q = await api.as(editor).put(`${NS}/dry-1/stop?dryRun=All`).expect(202);
  expect(q.body.message).toBe('runStrategy changed from Always to Halted: the VM will stop (dry run: nothing was changed)');
  await api.as(editor).put(`${NS}/dry-1/restart`).send({ dryRun: ['All'] }).expect(202);
  const after = await get('dry-1');
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  expect(after.spec.runStrategy).toBe('Always');
  // a dry run still says 409 when the action is impossible
  await api.as(editor).put(`${NS}/dry-1/start?dryRun=All`).expect(409);
});

test('malformed options are 400 naming the field, before anything is read or written', async () => {
  const before = await vm('bad-1', 'Always', 'Running');
  const bad: [string, unknown, RegExp][] = [
    ['stop', { gracePeriodSeconds: -1 }, /StopOptions in the request body could not be decoded: gracePeriodSeconds: .*from 0 to 86400/],
    ['restart', { gracePeriodSeconds: 'soon' }, /gracePeriodSeconds/],
    ['stop', { grace: 3 }, /unknown field "grace"/],
    ['start', { gracePeriodSeconds: 5 }, /gracePeriodSeconds: Forbidden: a start has no grace period/],
    ['stop', { kind: 'StartOptions' }, /kind: Invalid value: "StartOptions": the body of a stop must be StopOptions/],
    ['stop', { dryRun: ['Some'] }, /dryRun\[0\]/],
  ];
  for (const [action, body, message] of bad) {
    const res = await api.as(editor).put(`${NS}/bad-1/${action}`).send(body as object).expect(400);
    expect(res.body).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    expect(res.body.message).toMatch(message);
  }
  await api.as(editor).put(`${NS}/bad-1/stop?dryRun=Some`).expect(400);
  expect((await get('bad-1')).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  // a body of the right kind is fine
  await api.as(editor).put(`${NS}/bad-1/stop`).send({ apiVersion: V, kind: 'StopOptions', gracePeriodSeconds: 10 }).expect(202);
});

test('unknown VMs are 404; actions exist on VirtualMachines only', async () => {
  const res = await api.req.put(`${NS}/nosuch/start`).expect(404);
  expect(res.body).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  await api.req.put(`${API}/namespaces/demo/volumes/x/start`).expect(404);
  await api.req.get(`${NS}/nosuch/start`).expect(405);
});

test('concurrent actions are compare-and-set: of three starts of a stopped Manual VM, one wins and two are 409', async () => {
  await vm('race-1', 'Manual', 'Stopped');
  const results = await Promise.all([1, 2, 3].map(() => api.as(editor).put(`${NS}/race-1/start`)));
  expect(results.map((r) => r.status).sort()).toEqual([202, 409, 409]);
  expect((await get('race-1')).status.stateChangeRequests).toHaveLength(1);
});

test('discovery lists the actions as subresources of virtualmachines', async () => {
  const list = (await api.req.get(`${API}`).expect(200)).body;
  for (const action of ['start', 'stop', 'restart']) {
    expect(list.resources).toContainEqual({ name: `virtualmachines/${action}`, singularName: '', namespaced: true, kind: 'Status', verbs: ['update'] });
  }
});
