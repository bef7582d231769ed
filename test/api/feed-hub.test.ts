// The shared per-kind follower of a frontend: many watches, one reader of the feed.
import pino from 'pino';
import { FeedHub } from '../../api/feed-hub';
import { minTimeUuidAtTicks, type StoredObject, type WatchEvent } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';

let t: TestStore;
let hub: FeedHub;
let follows = 0;

beforeAll(async () => {
  t = await openTestStore('hub', { followerGraceMs: 200 });
  const follow = t.store.follow.bind(t.store);
  t.store.follow = (kind: string, from?: string) => { follows++; return follow(kind, from); };
  hub = new FeedHub({ store: t.store, logger: pino({ level: 'silent' }), pollMs: 50, overlapMs: 300 });
});
afterAll(async () => { hub.close(); await t.close(); });

const vol = (name: string): StoredObject => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name, namespace: 'demo' }, spec: { size: '1Gi' } });

/** Reads the watch until it gave `n` events: those events. */
async function collect(src: { poll(): Promise<WatchEvent[]> }, n: number, ms = 10000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const seen = () => `read so far: ${JSON.stringify(out.map((e) => `${e.type} ${e.object.metadata.name}`))}`;
  return until(`${n} events from the watch`, async () => {
    out.push(...(await src.poll()));
    return out.length >= n && out;
  }, { timeoutMs: ms, everyMs: 25, context: seen });
}

test('fifty watches of one kind share one feed follower and each sees every change', async () => {
  const sources = Array.from({ length: 50 }, () => hub.open('Volume'));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 5; i++) await t.store.create(vol(`v${i}`));
  const seen = await Promise.all(sources.map((s) => collect(s, 5)));
  for (const events of seen) expect(events.map((e) => e.object.metadata.name)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  expect(follows).toBe(1);
  sources.forEach((s) => s.close());
});

test('a watch from a recent resourceVersion is replayed from memory; an older one gets its own follower', async () => {
  await new Promise((r) => setTimeout(r, 500)); // the cursor's overlap window must lie after the hub began
  const created = await t.store.create(vol('later'));
  const anchor = hub.open('Volume');
  await collect(anchor, 1);
  const before = follows;
  const fromMemory = hub.open('Volume', created.metadata.resourceVersion);
  await t.store.update({ ...created, metadata: { ...created.metadata, labels: { x: 'y' } } });
  const events = await collect(fromMemory, 2);
  // the overlap window before the cursor is replayed from memory, then the change arrives live
  expect(events.filter((e) => e.object.metadata.name === 'later').map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
  expect(follows).toBe(before);
  const old = minTimeUuidAtTicks(BigInt(Date.now() - 2 * 3600_000) * 10000n);
  expect(() => hub.open('Volume', old)).toThrow(expect.objectContaining({ code: 'EXPIRED' }));
  anchor.close();
  fromMemory.close();
});
