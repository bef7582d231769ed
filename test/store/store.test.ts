// The object store on a real Cassandra node: compare-and-set, generation, finalizers, paging, feed.
import { types } from 'cassandra-driver';
import { migrate, ObjectStore, type StoredObject, minTimeUuidAtTicks, rvTicks, type WatchEvent } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

let t: TestStore;
let store: ObjectStore;

beforeAll(async () => {
  t = await openTestStore('store', { followerGraceMs: 200, followerOverlapMs: 500 });
  store = t.store;
});
afterAll(async () => t.close());

function vm(name: string, ns = 'demo', extra: Partial<StoredObject> = {}): StoredObject {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: ns }, spec: { cpu: 1, memory: '1Gi' }, ...extra };
}

/** Reads the follower until `enough` holds of all it read: those events. */
async function drain(f: ReturnType<ObjectStore['follow']>, enough: (all: WatchEvent[]) => boolean, ms = 20000): Promise<WatchEvent[]> {
  const all: WatchEvent[] = [];
  const seen = () => `read so far: ${JSON.stringify(all.map((e) => `${e.type} ${e.object.metadata.name}`))}`;
  return until('enough events from the follower', async () => {
    all.push(...(await f.poll()));
    return enough(all) && all;
  }, { timeoutMs: ms, context: seen });
}

test('create sets uid, resourceVersion, generation 1 and rejects a second create with AlreadyExists', async () => {
  const created = await store.create(vm('a1'));
  expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
  expect(created.metadata.resourceVersion).toBe(created.metadata.uid);
  expect(created.metadata.generation).toBe(1);
  expect(created.metadata.creationTimestamp).toMatch(/Z$/);
  await expect(store.create(vm('a1'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS', status: 409 });
  const row = (await t.client.execute(`SELECT uid, rv, body FROM ${t.keyspace}.objects WHERE kind = ? AND namespace = ? AND name = ?`, ['VirtualMachine', 'demo', 'a1'])).first();
  expect(String(row['rv'])).toBe(created.metadata.resourceVersion);
  expect(JSON.parse(row['body']).spec).toEqual({ cpu: 1, memory: '1Gi' });
});

test('generation increases only when spec changes; status writes and no-op updates keep it', async () => {
  const c = await store.create(vm('g1'));
  const same = await store.update(structuredClone(c));
  expect(same.metadata.resourceVersion).toBe(c.metadata.resourceVersion);
  const labelled = await store.update({ ...structuredClone(c), metadata: { ...c.metadata, labels: { app: 'x' } } });
  expect(labelled.metadata.generation).toBe(1);
  expect(labelled.metadata.resourceVersion).not.toBe(c.metadata.resourceVersion);
  const withStatus = await store.updateStatus({ ...structuredClone(labelled), status: { phase: 'Running' } });
  expect(withStatus.metadata.generation).toBe(1);
  const specChanged = await store.update({ ...structuredClone(withStatus), spec: { cpu: 2, memory: '1Gi' } });
  expect(specChanged.metadata.generation).toBe(2);
  expect(specChanged.status).toEqual({ phase: 'Running' });
  // a spec update cannot overwrite status
  const sneaky = await store.update({ ...structuredClone(specChanged), status: { phase: 'Failed' } });
  expect(sneaky.status).toEqual({ phase: 'Running' });
});

test('an update with a stale resourceVersion gets Conflict', async () => {
  const c = await store.create(vm('c1'));
  await store.update({ ...structuredClone(c), spec: { cpu: 3, memory: '1Gi' } });
  await expect(store.update({ ...structuredClone(c), spec: { cpu: 4, memory: '1Gi' } })).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
  expect((await store.get(vmKey('demo', 'c1')))!.spec).toEqual({ cpu: 3, memory: '1Gi' });
});

test('50 concurrent read-modify-write updates of one object lose none', async () => {
  await store.create(vm('rmw', 'demo', { metadata: { name: 'rmw', namespace: 'demo', annotations: {} } }));
  let conflicts = 0;
  const successRvs: string[] = [];
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    for (;;) {
      const cur = (await store.get(vmKey('demo', 'rmw'), { serial: true }))!;
      cur.metadata.annotations = { ...cur.metadata.annotations, [`w${i}`]: 'done' };
      try {
        const out = await store.update(cur);
        successRvs.push(out.metadata.resourceVersion!);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'CONFLICT') throw err;
        conflicts++;
      }
    }
  }));
  const final = (await store.get(vmKey('demo', 'rmw')))!;
  expect(Object.keys(final.metadata.annotations!)).toHaveLength(50);
  expect(successRvs).toHaveLength(50);
  expect(new Set(successRvs).size).toBe(50);
  expect(conflicts).toBeGreaterThan(0);
}, 120000);

test('delete with finalizers sets deletionTimestamp; removing the last finalizer removes the object', async () => {
  await store.create(vm('f1', 'demo', { metadata: { name: 'f1', namespace: 'demo', finalizers: ['stratuslab.eu/agent'] } }));
  const { object, deleted } = await store.delete(vmKey('demo', 'f1'));
  expect(deleted).toBe(false);
  expect(object.metadata.deletionTimestamp).toBeDefined();
  expect(await store.get(vmKey('demo', 'f1'))).toBeDefined();
  const cur = (await store.get(vmKey('demo', 'f1')))!;
  cur.metadata.finalizers = [];
  await store.update(cur);
  expect(await store.get(vmKey('demo', 'f1'))).toBeUndefined();
  await expect(store.delete(vmKey('demo', 'f1'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
});

test('delete preconditions on uid and resourceVersion are enforced', async () => {
  const c = await store.create(vm('p1'));
  await expect(store.delete(vmKey('demo', 'p1'), { preconditions: { uid: 'nope' } })).rejects.toMatchObject({ code: 'CONFLICT' });
  await expect(store.delete(vmKey('demo', 'p1'), { preconditions: { resourceVersion: c.metadata.uid!.replace(/^./, (ch) => (ch === '0' ? '1' : '0')) } })).rejects.toMatchObject({ code: 'CONFLICT' });
  expect((await store.delete(vmKey('demo', 'p1'), { preconditions: { uid: c.metadata.uid } })).deleted).toBe(true);
});

test('list pages across namespaces with limit/continue, returns each object once, and filters by labels', async () => {
  const kind = 'Volume';
  const names: string[] = [];
  for (const ns of ['n1', 'n2', 'n3']) {
    for (let i = 0; i < 8; i++) {
      const name = `v${String(i).padStart(2, '0')}`;
      await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind, metadata: { name, namespace: ns, labels: { tier: i % 2 ? 'odd' : 'even' } }, spec: {} });
      names.push(`${ns}/${name}`);
    }
  }
  const seen: string[] = [];
  let cont: string | undefined;
  let pages = 0;
  do {
    const page = await store.list(kind, undefined, { limit: 5, continue: cont });
    expect(page.items.length).toBeLessThanOrEqual(5);
    seen.push(...page.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
    cont = page.continue;
    pages++;
  } while (cont);
  expect(seen).toEqual(names);
  expect(pages).toBeGreaterThanOrEqual(5);
  const inN2 = await store.list(kind, 'n2', {});
  expect(inN2.items).toHaveLength(8);
  const odd = await store.list(kind, undefined, { labelSelector: { requirements: [{ key: 'tier', op: 'in', values: ['odd'] }] } });
  expect(odd.items).toHaveLength(12);
  await expect(store.list(kind, undefined, { continue: 'garbage' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
});

test('a follower sees 1,000 rapid writes, in order per object; a resumed follower misses nothing', async () => {
  const kind = 'Image';
  const start = store.currentResourceVersion();
  const follower = store.follow(kind, start);
  const objects = 20;
  const updatesEach = 49; // 20 creates + 980 updates = 1000 writes
  await Promise.all(Array.from({ length: objects }, async (_, i) => {
    let cur = await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind, metadata: { name: `i${i}`, namespace: 'demo' }, spec: { n: 0 } });
    for (let n = 1; n <= updatesEach; n++) cur = await store.update({ ...cur, spec: { n } });
  }));
  const total = objects * (updatesEach + 1);
  const events = await drain(follower, (all) => all.length >= total);
  expect(events).toHaveLength(total);
  const perObject = new Map<string, number[]>();
  for (const e of events) {
    const list = perObject.get(e.object.metadata.name) ?? [];
    list.push(Number((e.object.spec as { n: number }).n));
    perObject.set(e.object.metadata.name, list);
  }
  for (const seq of perObject.values()) expect(seq).toEqual(Array.from({ length: updatesEach + 1 }, (_, n) => n));
  // Resume from the middle: everything after the cursor arrives.
  const mid = events[500].object.metadata.resourceVersion!;
  const resumed = store.follow(kind, mid);
  const after = await drain(resumed, (all) => all.some((e) => e.object.metadata.resourceVersion === events[total - 1].object.metadata.resourceVersion));
  const got = new Set(after.map((e) => e.object.metadata.resourceVersion));
  for (const e of events.slice(501)) expect(got.has(e.object.metadata.resourceVersion)).toBe(true);
}, 180000);

test('a cursor older than the feed retention is refused with 410 Expired', () => {
  const old = minTimeUuidAtTicks(BigInt(Date.now() - 2 * 3600_000) * 10000n);
  expect(() => store.follow('VirtualMachine', old)).toThrow(expect.objectContaining({ code: 'EXPIRED', status: 410 }));
});

test('an uncommitted feed entry is shown only if its write happened (crash between the two writes)', async () => {
  const kind = 'Host';
  const follower = store.follow(kind, store.currentResourceVersion());
  const feed = store.feed;
  // A phantom: the entry was appended, the compare-and-set never ran.
  const phantomTs = types.TimeUuid.now().toString();
  await feed.append({ ts: phantomTs, ticks: rvTicks(phantomTs), kind, namespace: '', name: 'ghost', uid: phantomTs, type: 'ADDED', body: JSON.stringify({ apiVersion: 'x', kind, metadata: { name: 'ghost', resourceVersion: phantomTs } }), committed: false });
  // A real write whose writer died before marking the entry committed.
  const realTs = types.TimeUuid.now().toString();
  const body = JSON.stringify({ apiVersion: 'stratuslab.eu/v1alpha1', kind, metadata: { name: 'h1', uid: realTs, resourceVersion: realTs }, spec: {} });
  await feed.append({ ts: realTs, ticks: rvTicks(realTs), kind, namespace: '', name: 'h1', uid: realTs, type: 'ADDED', body, committed: false });
  await t.client.execute(`INSERT INTO ${t.keyspace}.objects (kind, namespace, name, uid, rv, body) VALUES (?, '', 'h1', ?, ?, ?) IF NOT EXISTS`, [kind, realTs, realTs, body]);
  const events = await drain(follower, (all) => all.length >= 1, 5000);
  expect(events.map((e) => e.object.metadata.name)).toEqual(['h1']);
});

test('a fieldSelector on status.host reads the field index, which follows binds, moves and deletes', async () => {
  const bound = async (host: string) => (await store.list('VirtualMachine', undefined, { fieldSelector: [{ field: 'status.host', op: '=', value: host }], limit: 2 }));
  for (let i = 0; i < 3; i++) {
    const c = await store.create(vm(`b${i}`, 'idx'));
    await store.updateStatus({ ...c, status: { host: 'hv-a' } });
  }
  const page1 = await bound('hv-a');
  expect(page1.items.map((o) => o.metadata.name)).toEqual(['b0', 'b1']);
  const page2 = await store.list('VirtualMachine', undefined, { fieldSelector: [{ field: 'status.host', op: '=', value: 'hv-a' }], limit: 2, continue: page1.continue });
  expect(page2.items.map((o) => o.metadata.name)).toEqual(['b2']);
  await store.guaranteedUpdate(vmKey('idx', 'b1'), (cur) => ({ ...cur, status: { host: 'hv-b' } }), { status: true });
  await store.delete(vmKey('idx', 'b2'));
  expect((await bound('hv-a')).items.map((o) => o.metadata.name)).toEqual(['b0']);
  expect((await bound('hv-b')).items.map((o) => o.metadata.name)).toEqual(['b1']);
  const rows = await t.client.execute(`SELECT name FROM ${t.keyspace}.field_index WHERE kind = 'VirtualMachine' AND field = 'status.host' AND value = 'hv-a'`);
  expect(rows.rows.map((r) => r['name'])).toEqual(['b0']);
});

test('internal writers: a cached current object saves the read but a stale one still conflicts; withStatus writes finalizers and status in one write', async () => {
  const c = await t.store.create(vm('cur1'));
  const s1 = await t.store.updateStatus({ ...c, status: { phase: 'Scheduled' } }, { current: c });
  expect((await t.store.get(vmKey('demo', 'cur1')))?.status).toEqual({ phase: 'Scheduled' });
  // c is stale now: its resourceVersion is no longer the row's, so the compare-and-set fails.
  await expect(t.store.updateStatus({ ...c, status: { phase: 'Failed' } }, { current: c })).rejects.toMatchObject({ code: 'CONFLICT' });
  const next = structuredClone(s1);
  next.metadata.finalizers = ['agent.stratuslab.eu/domain'];
  next.status = { phase: 'Running' };
  const out = await t.store.update(next, { current: s1, withStatus: true });
  const row = await t.store.get(vmKey('demo', 'cur1'));
  expect(row?.metadata.finalizers).toEqual(['agent.stratuslab.eu/domain']);
  expect(row?.status).toEqual({ phase: 'Running' });
  expect(row?.metadata.resourceVersion).toBe(out.metadata.resourceVersion);
  expect(row?.metadata.generation).toBe(c.metadata.generation); // no spec change, no new generation
  // Without withStatus, update keeps the stored status whatever the input says.
  const plain = structuredClone(row!);
  plain.metadata.labels = { a: 'b' };
  plain.status = { phase: 'Ignored' };
  await t.store.update(plain);
  expect((await t.store.get(vmKey('demo', 'cur1')))?.status).toEqual({ phase: 'Running' });
});

test('a migration that added a column but was not recorded (a crash in between) runs again without failing', async () => {
  await t.client.execute(`DELETE FROM ${t.keyspace}.schema_migrations WHERE id = 5`);
  expect(await migrate({ client: t.client, keyspace: t.keyspace })).toEqual([5]);
  expect(await migrate({ client: t.client, keyspace: t.keyspace })).toEqual([]);
  // The feed keeps the labels an object had before a change of its labels.
  const c = await store.create(vm('labelled', 'demo', { metadata: { name: 'labelled', namespace: 'demo', labels: { tier: 'gold' } } }));
  const f = store.follow('VirtualMachine', c.metadata.resourceVersion);
  await store.update({ ...c, metadata: { ...c.metadata, labels: { tier: 'silver' } } });
  const mod = (e: WatchEvent) => e.type === 'MODIFIED' && e.object.metadata.name === 'labelled';
  const ev = (await drain(f, (all) => all.some(mod))).find(mod)!;
  f.close();
  expect(ev).toMatchObject({ type: 'MODIFIED', prevLabels: { tier: 'gold' }, object: { metadata: { labels: { tier: 'silver' } } } });
});
