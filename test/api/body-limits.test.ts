// Issue #11, items 2 and 3: YAML aliases count against the body limit; a stored object is at most
// 1.5 MiB and its annotations 256 KiB, refused before Cassandra on every write verb; quantities
// that overflow or exceed 8Pi are refused (422 naming the field) and never count 0 against a quota.
import { openTestApi, API, type TestApi } from '../helpers/api';
import { vmKey } from '../helpers/fixtures';

let api: TestApi;
const V = 'stratuslab.eu/v1alpha1';
const MiB = 1024 * 1024;
const NS = `${API}/namespaces/limits`;
const VMS = `${NS}/virtualmachines`;

const vm = (name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) =>
  ({ apiVersion: V, kind: 'VirtualMachine', metadata: { name, ...meta }, spec: { cpu: 1, memory: '1Gi', ...spec } });
/** `n` labels of 60-character values: about 86 bytes each once stored with their managed field. */
const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(6, '0')}`, 'v'.repeat(60)]));
const yamlPost = (path: string, text: string) => api.req.post(path).set('Content-Type', 'application/yaml').send(text);
const merge = (path: string, body: object) => api.req.patch(path).set('Content-Type', 'application/merge-patch+json').send(body);
const applyPatch = (path: string, body: object) => api.req.patch(`${path}?fieldManager=limits-test&force=true`).set('Content-Type', 'application/apply-patch+yaml').send(JSON.stringify(body));

async function names(kind = 'VirtualMachine', ns = 'limits'): Promise<string[]> {
  return (await api.store.list(kind, ns, { limit: 1000 })).items.map((o) => o.metadata.name).sort();
}

beforeAll(async () => {
  api = await openTestApi('limits', { maxBytes: 3 * MiB });
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'limits' }, spec: {} }).expect(201);
}, 60000);
afterAll(async () => {
  await api?.close();
});

describe('YAML aliases are counted against the body limit', () => {
  const bomb = (aliases: number) => {
    const anchor = `metadata:\n  name: bomb-${aliases}\n  annotations: &big\n    a: "${'x'.repeat(1024 * 1024)}"\nspec: {cpu: 1, memory: 1Gi}\n`;
    return `${anchor}status: {${Array.from({ length: aliases }, (_, i) => `k${i}: *big`).join(', ')}}\n`;
  };

  test.each([19, 4])('a 1 MB anchor aliased %i times (20 MB / 5 MB expanded) is refused with 413 and nothing is stored', async (n) => {
    const text = bomb(n);
    expect(text.length).toBeLessThan(1.1 * MiB);
    const before = await names();
    const r = await yamlPost(VMS, text);
    expect([r.status, r.body.reason]).toEqual([413, 'RequestEntityTooLarge']);
    expect(r.body.message).toBe(`Request entity too large: the request body is larger than the limit of ${3 * MiB} bytes once its YAML aliases are expanded`);
    expect(await names()).toEqual(before);
    await api.req.get(`${VMS}/bomb-${n}`).expect(404);
    await api.req.get('/readyz').expect(200);
  });

  test('the same through server-side apply and a PUT: refused, the object as it was', async () => {
    await api.req.post(VMS).send(vm('aliased')).expect(201);
    const cur = (await api.req.get(`${VMS}/aliased`).expect(200)).body;
    const text = `apiVersion: ${V}\nkind: VirtualMachine\nmetadata:\n  name: aliased\n  resourceVersion: "${cur.metadata.resourceVersion}"\n  annotations: &a {x: "${'y'.repeat(1024 * 1024)}"}\n  labels: {}\nspec: {cpu: 1, memory: 1Gi}\nstatus: {a: *a, b: *a, c: *a}\n`;
    const put = await api.req.put(`${VMS}/aliased`).set('Content-Type', 'application/yaml').send(text);
    expect(put.status).toBe(413);
    const apply = await api.req.patch(`${VMS}/aliased?fieldManager=m`).set('Content-Type', 'application/apply-patch+yaml').send(text);
    expect(apply.status).toBe(413);
    expect((await api.req.get(`${VMS}/aliased`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });

  test('an alias that refers to a node containing it is a 400, not a loop or a 500', async () => {
    for (const text of ['metadata: &m {name: loop, x: *m}\n', 'metadata: {name: loop}\nspec: &s [1, *s]\n']) {
      const r = await yamlPost(VMS, text);
      expect([r.status, r.body.reason]).toEqual([400, 'BadRequest']);
      expect(r.body.message).toMatch(/alias refers to a node that contains it/);
    }
    await api.req.get(`${VMS}/loop`).expect(404);
  });

  test('aliases that stay within the limits still work', async () => {
    const text = `apiVersion: ${V}\nkind: VirtualMachine\nmetadata:\n  name: anchored\n  labels: &sel {tier: web}\nspec:\n  cpu: 1\n  memory: 1Gi\n  placement:\n    hostSelector: *sel\n`;
    const r = await yamlPost(VMS, text).expect(201);
    expect(r.body.spec.placement.hostSelector).toEqual({ tier: 'web' });
  });

  test('a 3 MB YAML body of small keys is parsed in well under the time and memory it took (12 s, 880 MB)', async () => {
    const keys = Array.from({ length: 150_000 }, (_, i) => `    k${i}: [1, 2]`).join('\n');
    const text = `metadata:\n  name: flat\nspec:\n  cpu: 1\n  memory: 1Gi\n  placement:\n    bogus:\n${keys}\n`;
    expect(text.length).toBeGreaterThan(2 * MiB);
    const started = Date.now();
    const r = await yamlPost(VMS, text);
    expect(r.status).toBe(422); // parsed; the unknown field is what is wrong
    expect(Date.now() - started).toBeLessThan(10_000);
    await api.req.get(`${VMS}/flat`).expect(404);
  });
});

describe('a stored object is at most 1.5 MiB, checked before Cassandra on every write', () => {
  const tooBig = labels(20_000); // about 1.7 MB stored, well under the 3 MiB body limit

  function expectTooLarge(r: { status: number; body: any }, name: string) {
    expect([r.status, r.body.reason]).toEqual([413, 'RequestEntityTooLarge']);
    expect(r.body.message).toMatch(new RegExp(`^Request entity too large: virtualmachines\\.stratuslab\\.eu "${name}" would take \\d+ bytes when stored, more than the limit of 1572864 bytes \\(the largest field is metadata\\.labels, \\d+ bytes\\)$`));
    expect(r.body.details).toMatchObject({ name, kind: 'virtualmachines', causes: [{ field: 'metadata.labels', reason: 'FieldValueTooLong' }] });
  }

  test('create (also as a dry run and through apply) is refused with 413 naming the field; nothing is stored', async () => {
    const body = vm('huge', {}, { labels: tooBig });
    expect(JSON.stringify(body).length).toBeLessThan(3 * MiB);
    expectTooLarge(await api.req.post(VMS).send(body), 'huge');
    expectTooLarge(await api.req.post(`${VMS}?dryRun=All`).send(body), 'huge');
    expectTooLarge(await applyPatch(`${VMS}/huge`, body), 'huge');
    await api.req.get(`${VMS}/huge`).expect(404);
    expect(await api.store.get(vmKey('limits', 'huge'))).toBeUndefined();
  });

  test('update, merge patch, JSON patch and apply that would grow an object past the limit are refused; the object is unchanged', async () => {
    await api.req.post(VMS).send(vm('grows')).expect(201);
    const cur = (await api.req.get(`${VMS}/grows`).expect(200)).body;
    expectTooLarge(await api.req.put(`${VMS}/grows`).send({ ...cur, metadata: { ...cur.metadata, labels: tooBig } }), 'grows');
    expectTooLarge(await merge(`${VMS}/grows`, { metadata: { labels: tooBig } }), 'grows');
    expectTooLarge(await api.req.patch(`${VMS}/grows`).set('Content-Type', 'application/json-patch+json').send([{ op: 'add', path: '/metadata/labels', value: tooBig }]), 'grows');
    expectTooLarge(await applyPatch(`${VMS}/grows`, vm('grows', {}, { labels: tooBig })), 'grows');
    const after = (await api.req.get(`${VMS}/grows`).expect(200)).body;
    expect(after.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
    expect(after.metadata.labels).toBeUndefined();
  });

  test('a status write past the limit is refused (PUT and merge patch on /status), naming status.consoleLog', async () => {
    await api.req.post(VMS).send(vm('chatty')).expect(201);
    const cur = (await api.req.get(`${VMS}/chatty`).expect(200)).body;
    const log = 'x'.repeat(1.6 * MiB);
    for (const r of [
      await api.req.put(`${VMS}/chatty/status`).send({ ...cur, status: { consoleLog: log } }),
      await merge(`${VMS}/chatty/status`, { status: { consoleLog: log } }),
    ]) {
      expect([r.status, r.body.reason]).toEqual([413, 'RequestEntityTooLarge']);
      expect(r.body.details.causes[0].field).toBe('status.consoleLog');
    }
    expect((await api.req.get(`${VMS}/chatty`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });

  test('internal writers hit the same limit in the store, before the feed or the table sees the object', async () => {
    const internal = vm('internal', {}, { namespace: 'limits', labels: labels(24_000) }); // no managedFields: more labels
    await expect(api.store.create(internal as never)).rejects.toMatchObject({ code: 'REQUEST_ENTITY_TOO_LARGE', status: 413 });
    await api.req.post(VMS).send(vm('internal')).expect(201);
    await expect(api.store.guaranteedUpdate(vmKey('limits', 'internal'), (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: labels(24_000) } })))
      .rejects.toMatchObject({ code: 'REQUEST_ENTITY_TOO_LARGE' });
    expect((await api.store.get(vmKey('limits', 'internal')))?.metadata.labels).toBeUndefined();
    await api.req.delete(`${VMS}/internal`).expect(200);
  });

  test('an object just under the limit is stored; a refused create does not use up the quota', async () => {
    await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'limits-q' }, spec: { quota: { vms: 1 } } }).expect(201);
    expect((await api.req.post(`${API}/namespaces/limits-q/virtualmachines`).send(vm('huge', {}, { labels: tooBig }))).status).toBe(413);
    await api.req.post(`${API}/namespaces/limits-q/virtualmachines`).send(vm('fits', {}, { labels: labels(14_000) })).expect(201);
    await api.security.ledger.idle();
    expect((await api.security.ledger.totals('limits-q')).vms).toBe(1);
  });
});

describe('annotations are at most 256 KiB in all', () => {
  const message = 'metadata.annotations: Too long: must have at most 262144 bytes';

  test('create, update, merge patch and apply with more are refused with 422 naming metadata.annotations; nothing changes', async () => {
    const big = { note: 'x'.repeat(262144 - 3) }; // "note" + value = 262145 bytes
    const r = await api.req.post(VMS).send(vm('annotated', {}, { annotations: big }));
    expect([r.status, r.body.reason]).toEqual([422, 'Invalid']);
    expect(r.body.message).toBe(`VirtualMachine.stratuslab.eu "annotated" is invalid: ${message}`);
    expect(r.body.details.causes).toEqual([{ field: 'metadata.annotations', reason: 'FieldValueTooLong', message: 'Too long: must have at most 262144 bytes' }]);
    await api.req.get(`${VMS}/annotated`).expect(404);

    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`a${i}`, 'y'.repeat(1000)]));
    await api.req.post(VMS).send(vm('annotated', {}, { annotations: { note: 'x'.repeat(262144 - 4) } })).expect(201);
    const cur = (await api.req.get(`${VMS}/annotated`).expect(200)).body;
    for (const res of [
      await api.req.put(`${VMS}/annotated`).send({ ...cur, metadata: { ...cur.metadata, annotations: many } }),
      await merge(`${VMS}/annotated`, { metadata: { annotations: { more: 'z' } } }),
      await applyPatch(`${VMS}/annotated`, vm('annotated', {}, { annotations: many })),
    ]) {
      expect([res.status, res.body.message]).toEqual([422, `VirtualMachine.stratuslab.eu "annotated" is invalid: ${message}`]);
    }
    expect((await api.req.get(`${VMS}/annotated`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });
});

describe('quantities are parsed as one strict parser reads them: no overflow, at most 8Pi', () => {
  const tooLarge = (field: string, value: string) => `${field}: Invalid value: "${value}": must be less than or equal to 8Pi (9007199254740992)`;

  test('a VM with memory "1e1000" or a disk of "1e309" is refused with 422 naming the field; nothing is stored', async () => {
    const memory = await api.req.post(VMS).send(vm('overflow', { memory: '1e1000' }));
    expect([memory.status, memory.body.reason]).toEqual([422, 'Invalid']);
    expect(memory.body.message).toBe(`VirtualMachine.stratuslab.eu "overflow" is invalid: ${tooLarge('spec.memory', '1e1000')}`);
    const disk = await api.req.post(VMS).send(vm('overflow', { disks: [{ name: 'd', size: '1e309' }] }));
    expect([disk.status, disk.body.message]).toEqual([422, `VirtualMachine.stratuslab.eu "overflow" is invalid: ${tooLarge('spec.disks[0].size', '1e309')}`]);
    const yaml = await yamlPost(VMS, `metadata: {name: overflow}\nspec: {cpu: 1, memory: 9Pi}\n`);
    expect([yaml.status, yaml.body.details.causes[0].field]).toEqual([422, 'spec.memory']);
    const volume = await api.req.post(`${NS}/volumes`).send({ apiVersion: V, kind: 'Volume', metadata: { name: 'overflow' }, spec: { size: '1e309' } });
    expect([volume.status, volume.body.details.causes[0].field]).toEqual([422, 'spec.size']);
    const quota = await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'overflow' }, spec: { quota: { memory: '1e1000' } } });
    expect([quota.status, quota.body.details.causes[0].field]).toEqual([422, 'spec.quota.memory']);
    await api.req.get(`${VMS}/overflow`).expect(404);
    await api.req.get(`${NS}/volumes/overflow`).expect(404);
    await api.req.get(`${API}/projects/overflow`).expect(404);
  });

  test('patches and apply to such values are refused too, the VM as it was', async () => {
    await api.req.post(VMS).send(vm('resized', { disks: [{ name: 'd', size: '1Gi' }] })).expect(201);
    const cur = (await api.req.get(`${VMS}/resized`).expect(200)).body;
    expect((await merge(`${VMS}/resized`, { spec: { memory: '1e1000' } })).status).toBe(422);
    expect((await api.req.patch(`${VMS}/resized`).set('Content-Type', 'application/json-patch+json').send([{ op: 'replace', path: '/spec/disks/0/size', value: '1e309' }])).status).toBe(422);
    expect((await applyPatch(`${VMS}/resized`, vm('resized', { memory: 2 ** 60 }))).status).toBe(422);
    expect((await api.req.get(`${VMS}/resized`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });

  test('quota counts what it should: a 1Gi quota refuses 2Gi and 8Pi, and an oversized VM already stored counts as 8Pi, shown as a quantity', async () => {
    await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'quantity-q' }, spec: { quota: { memory: '1Gi', storage: '1Gi' } } }).expect(201);
    const QVMS = `${API}/namespaces/quantity-q/virtualmachines`;
    expect((await api.req.post(QVMS).send(vm('two', { memory: '2Gi' }))).status).toBe(403);
    expect((await api.req.post(QVMS).send(vm('huge', { memory: '8Pi' }))).status).toBe(403);
    expect((await api.req.post(QVMS).send(vm('inf', { memory: '1e1000' }))).status).toBe(422);
    expect((await api.req.post(QVMS).send(vm('disk', { memory: '1Mi', disks: [{ name: 'd', size: '1e309' }] }))).status).toBe(422);
    await api.req.post(QVMS).send(vm('one', { memory: '1Gi' })).expect(201);
    // One written before validation refused such values (straight to the store, as an old frontend did).
    const legacy = { ...vm('legacy', { memory: '1e1000' }), metadata: { name: 'legacy', namespace: 'quantity-q' } };
    await api.store.create(legacy as never);
    await api.security.reconciler.reconcileProject('quantity-q');
    await api.security.ledger.idle();
    const totals = await api.security.ledger.totals('quantity-q');
    expect(totals.memory).toBe(2 ** 53 + 2 ** 30);
    expect(Number.isFinite(totals.memory)).toBe(true);
    await api.security.usage.flush();
    const p = (await api.req.get(`${API}/projects/quantity-q`).expect(200)).body;
    expect(p.status.usage.memory).toBe('8388609Gi');
    expect(p.status.usage.memory).toMatch(/^[0-9]+([KMGTPE]i)?$/);
  });
});
