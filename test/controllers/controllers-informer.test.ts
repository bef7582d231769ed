// The informer on a real Cassandra node: list then follow, handlers, filters, frozen cache,
// re-list on resync (repairs a change the feed never announced) and on 410 Gone.
import pino from 'pino';
import { GoneError } from '../../errors';
import { Informer, objectKey, type CachedObject } from '../../runtime';
import type { ObjectStore, StoredObject } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

let t: TestStore;
let store: ObjectStore;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  t = await openTestStore('informer', { followerGraceMs: 200 });
  store = t.store;
});
afterAll(async () => t.close());

const vm = (name: string, ns = 'demo', labels?: Record<string, string>): StoredObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: ns, labels }, spec: { cpu: 1, memory: '1Gi' },
});

interface Recorded { adds: string[]; updates: string[]; deletes: string[] }
function record(inf: Informer): Recorded {
  const r: Recorded = { adds: [], updates: [], deletes: [] };
  inf.addHandlers({ onAdd: (k) => r.adds.push(k), onUpdate: (k) => r.updates.push(k), onDelete: (k) => r.deletes.push(k) });
  return r;
}

test('lists existing objects in pages, syncs, then reports adds, updates and deletes from the feed', async () => {
  for (let i = 0; i < 7; i++) await store.create(vm(`pre-${i}`, 'inf1'));
  const inf = new Informer({ store, kind: 'VirtualMachine', namespace: 'inf1', pageSize: 3, pollIntervalMs: 50, logger });
  const r = record(inf);
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  expect(await inf.waitForSync()).toBe(true);
  expect(inf.hasSynced()).toBe(true);
  expect(inf.keys().sort()).toEqual(Array.from({ length: 7 }, (_, i) => `inf1/pre-${i}`));

  const created = await store.create(vm('new', 'inf1'));
  await until('onAdd of inf1/new', () => r.adds.includes('inf1/new'), { everyMs: 20 });
  const updated = await store.updateStatus({ ...structuredClone(created), status: { phase: 'Running' } });
  await until('inf1/new Running in the cache', () => inf.get('inf1/new')?.status?.phase === 'Running', { everyMs: 20 });
  expect(inf.get('inf1/new')!.metadata.resourceVersion).toBe(updated.metadata.resourceVersion);
  expect(r.updates).toContain('inf1/new');
  await store.delete(vmKey('inf1', 'new'));
  await until('onDelete of inf1/new', () => r.deletes.includes('inf1/new'), { everyMs: 20 });
  expect(inf.get('inf1/new')).toBeUndefined();
  // the feed's overlap window replays old events: they must not resurrect the object
  await new Promise((r2) => setTimeout(r2, 400));
  expect(inf.get('inf1/new')).toBeUndefined();
  expect(r.adds.filter((k) => k === 'inf1/new')).toHaveLength(1);
  ac.abort();
  await running;
});

test('cached objects are frozen: a caller cannot change the cache by mistake', async () => {
  await store.create(vm('frozen', 'inf2'));
  const inf = new Informer({ store, kind: 'VirtualMachine', namespace: 'inf2', pollIntervalMs: 50, logger });
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  await inf.waitForSync();
  const o = inf.get('inf2/frozen') as StoredObject;
  expect(() => { (o.spec as Record<string, unknown>).cpu = 99; }).toThrow(TypeError);
  expect(inf.get('inf2/frozen')!.spec!.cpu).toBe(1);
  ac.abort();
  await running;
});

test('field and label filters apply in memory; an object that stops matching is reported deleted', async () => {
  const a = await store.create(vm('a', 'inf3', { app: 'web' }));
  await store.create(vm('b', 'inf3', { app: 'db' }));
  const inf = new Informer({
    store, kind: 'VirtualMachine', namespace: 'inf3', pollIntervalMs: 50, logger,
    fieldSelector: [{ field: 'status.host', op: '=', value: 'hv-1' }],
    filter: (o) => o.metadata.labels?.app === 'web',
  });
  inf.addIndex('host', (o) => (o.status?.host ? [String(o.status.host)] : []));
  const r = record(inf);
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  await inf.waitForSync();
  expect(inf.size).toBe(0);
  const bound = await store.updateStatus({ ...structuredClone(a), status: { host: 'hv-1' } });
  await until('one object in the cache', () => inf.size === 1, { everyMs: 20 });
  expect(inf.byIndex('host', 'hv-1').map(objectKey)).toEqual(['inf3/a']);
  await store.updateStatus({ ...structuredClone(bound), status: { host: 'hv-2' } });
  await until('onDelete of inf3/a', () => r.deletes.includes('inf3/a'), { everyMs: 20 });
  expect(inf.byIndex('host', 'hv-1')).toEqual([]);
  ac.abort();
  await running;
});

test('re-lists on the resync period and repairs a change the feed never announced', async () => {
  await store.create(vm('ghost', 'inf4'));
  const inf = new Informer({ store, kind: 'VirtualMachine', namespace: 'inf4', pollIntervalMs: 50, resyncPeriodMs: 500, logger });
  const r = record(inf);
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  await inf.waitForSync();
  expect(inf.get('inf4/ghost')).toBeDefined();
  // Remove the row behind the feed's back (as a lost feed entry would).
  await t.client.execute(`DELETE FROM ${t.keyspace}.objects WHERE kind = 'VirtualMachine' AND namespace = 'inf4' AND name = 'ghost' IF EXISTS`);
  await until('onDelete of inf4/ghost after a resync', () => r.deletes.includes('inf4/ghost'), { timeoutMs: 5000, everyMs: 20 });
  ac.abort();
  await running;
});

test('a 410 Gone from the change feed makes the informer re-list instead of failing', async () => {
  await store.create(vm('x', 'inf5'));
  let follows = 0;
  const flaky = new Proxy(store, {
    get(target, prop, recv) {
      if (prop === 'follow') {
        return (kind: string, from?: string) => {
          follows++;
          if (follows === 1) {
            return { poll: async () => { throw new GoneError('too old resource version'); }, cursor: () => from ?? '' };
          }
          return target.follow(kind, from);
        };
      }
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const inf = new Informer({ store: flaky, kind: 'VirtualMachine', namespace: 'inf5', pollIntervalMs: 50, logger });
  const seen: CachedObject[] = [];
  inf.addHandlers({ onAdd: (_k, o) => seen.push(o) });
  const ac = new AbortController();
  const running = inf.start(ac.signal);
  await inf.waitForSync();
  await until('a second follow of the feed', () => follows >= 2, { everyMs: 20 });
  await store.create(vm('y', 'inf5'));
  await until('inf5/y in the cache', () => inf.get('inf5/y') !== undefined, { everyMs: 20 });
  expect(seen.map(objectKey).sort()).toEqual(['inf5/x', 'inf5/y']);
  ac.abort();
  await running;
});
