// Events in real Cassandra: the recorder's aggregation into one row per event with its count,
// the TTL of what is written (Cassandra's TTL()), a restart that continues a count, the rate limit
// and the bounded queue (recording never waits, drops are counted), listing and the change feed.
import pino from 'pino';
import { Registry } from 'prom-client';
import { EventBroadcaster, type EventSink } from '../../runtime/events';
import { EventRepository, eventShard } from '../../store/events';
import { EVENT_FIELDS, type EventObject } from '../../kube/events';
import { parseFieldSelector } from '../../kube/selectors';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';

let t: TestStore;
let repo: EventRepository;
const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
const reporter = { component: 'stratus-agent', host: 'hv-1', controller: 'stratuslab.eu/agent', instance: 'hv-1' };
const vm = (name: string, namespace = 'demo', uid = `uid-${name}`) => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace, uid } });

/** Runs a broadcaster until the test ends. */
function running(b: EventBroadcaster): { stop(): Promise<void> } {
  const ac = new AbortController();
  const done = b.start(ac.signal);
  return { async stop() { ac.abort(); await done; } };
}

async function rows(namespace: string, name: string): Promise<{ body: EventObject; ttl: number }[]> {
  const shard = eventShard(name.slice(0, name.lastIndexOf('.')));
  const rs = await t.client.execute(`SELECT body, TTL(body) AS ttl FROM ${t.keyspace}.events WHERE namespace = ? AND shard = ? AND name = ?`, [namespace, shard, name], { prepare: true });
  return rs.rows.map((r) => ({ body: JSON.parse(r['body']), ttl: r['ttl'] }));
}

beforeAll(async () => {
  t = await openTestStore('events', { followerGraceMs: 300, followerOverlapMs: 500 });
  repo = new EventRepository({ client: t.client, keyspace: t.keyspace, feed: t.store.feed, ttlSec: 120 });
});
afterAll(async () => {
  await t?.close();
});

describe('recorder and repository', () => {
  test('a repeated event is one row with its count, first and last time; every write carries the TTL', async () => {
    const b = new EventBroadcaster({ sink: repo, logger });
    const r = running(b);
    const rec = b.recorder(reporter);
    for (let i = 0; i < 3; i++) {
      rec.event(vm('agg'), 'Normal', 'Started', 'started the domain demo.agg on host hv-1');
      await b.flush();
    }
    await r.stop();
    const list = await repo.list(['demo'], { fieldSelector: parseFieldSelector('involvedObject.name=agg', EVENT_FIELDS) });
    expect(list.items).toHaveLength(1);
    const ev = list.items[0];
    expect(ev).toMatchObject({ count: 3, reason: 'Started', type: 'Normal', involvedObject: { name: 'agg', uid: 'uid-agg' }, source: { component: 'stratus-agent', host: 'hv-1' } });
    expect(ev.metadata.name).toMatch(/^agg\.[0-9a-f]{16}$/);
    expect(Date.parse(ev.lastTimestamp)).toBeGreaterThanOrEqual(Date.parse(ev.firstTimestamp));
    const [row] = await rows('demo', ev.metadata.name);
    expect(row.ttl).toBeGreaterThan(100);
    expect(row.ttl).toBeLessThanOrEqual(120);
    expect(b.counts).toMatchObject({ written: 3, rate_limited: 0, queue_full: 0, write_failed: 0 });
  });

  test('after a restart the stored count, first time and uid continue', async () => {
    const first = new EventBroadcaster({ sink: repo, logger });
    const r1 = running(first);
    first.recorder(reporter).event(vm('restart'), 'Warning', 'Crashed', 'the domain crashed');
    first.recorder(reporter).event(vm('restart'), 'Warning', 'Crashed', 'the domain crashed');
    await first.flush();
    await r1.stop();
    const before = (await repo.list(['demo'], { fieldSelector: parseFieldSelector('involvedObject.name=restart', EVENT_FIELDS) })).items[0];
    expect(before.count).toBe(2);
    const second = new EventBroadcaster({ sink: repo, logger });
    const r2 = running(second);
    second.recorder(reporter).event(vm('restart'), 'Warning', 'Crashed', 'the domain crashed');
    await second.flush();
    await r2.stop();
    const after = await repo.get('demo', before.metadata.name);
    expect(after).toMatchObject({ count: 3, firstTimestamp: before.firstTimestamp, metadata: { uid: before.metadata.uid, creationTimestamp: before.metadata.creationTimestamp } });
    expect(after!.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
  });

  test('the rate limit per reporter and object: 25 written, the rest dropped and counted in the metrics', async () => {
    const registry = new Registry();
    const b = new EventBroadcaster({ sink: repo, logger, registry });
    const r = running(b);
    for (let i = 0; i < 40; i++) b.recorder(reporter).event(vm('spam'), 'Warning', 'StartFailed', 'start failed');
    b.recorder(reporter).event(vm('quiet'), 'Normal', 'Started', 'started');
    await b.flush();
    await r.stop();
    const spam = (await repo.list(['demo'], { fieldSelector: parseFieldSelector('involvedObject.name=spam', EVENT_FIELDS) })).items;
    expect(spam.map((e) => e.count)).toEqual([25]);
    expect((await repo.list(['demo'], { fieldSelector: parseFieldSelector('involvedObject.name=quiet', EVENT_FIELDS) })).items).toHaveLength(1);
    const dropped = await registry.getSingleMetric('stratus_events_dropped_total')!.get();
    expect(dropped.values.find((v) => v.labels['cause'] === 'rate_limited')?.value).toBe(15);
  });

  test('recording never waits on Cassandra: past the queue bound events are dropped and counted, the rest written once it answers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow: EventSink = { get: async (ns, n) => { await gate; return repo.get(ns, n); }, write: (e) => repo.write(e) };
    const b = new EventBroadcaster({ sink: slow, logger, queueSize: 5, concurrency: 1 });
    const r = running(b);
    const rec = b.recorder(reporter);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) rec.event(vm(`q-${i}`), 'Normal', 'Created', 'defined the domain');
    expect(performance.now() - t0).toBeLessThan(50);
    expect(b.counts.queue_full).toBe(4); // one being written, five waiting
    release();
    await b.flush();
    await r.stop();
    const written = await repo.list(['demo'], { limit: 1000 });
    expect(written.items.filter((e) => e.involvedObject.name.startsWith('q-'))).toHaveLength(6);
  });

  test('a failed write is counted and thrown at nobody', async () => {
    const broken: EventSink = { get: async () => undefined, write: async () => { throw new Error('NoHostAvailable'); } };
    const b = new EventBroadcaster({ sink: broken, logger });
    const r = running(b);
    expect(() => b.recorder(reporter).event(vm('broken'), 'Normal', 'Created', 'x')).not.toThrow();
    await b.flush();
    await r.stop();
    expect(b.counts).toMatchObject({ written: 0, write_failed: 1 });
  });
});

describe('listing and the feed', () => {
  test('pages across namespaces and shards; a selector on the object reads its events only; every write is on the feed', async () => {
    const from = t.store.currentResourceVersion();
    const b = new EventBroadcaster({ sink: repo, logger });
    const r = running(b);
    for (let i = 0; i < 12; i++) b.recorder(reporter).event(vm(`p-${i}`, i % 2 ? 'paging-a' : 'paging-b'), 'Normal', 'Scheduled', `assigned to hv-${i}`);
    b.recorder(reporter).event({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host', metadata: { name: 'hv-9', uid: 'h-9' } }, 'Warning', 'NotReady', 'no heartbeat');
    await b.flush();
    await r.stop();
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await repo.list(['paging-a', 'paging-b', ''], { limit: 5, continue: cont });
      seen.push(...page.items.map((e) => `${e.metadata.namespace ?? ''}/${e.involvedObject.name}`));
      cont = page.continue;
      pages++;
    } while (cont);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.sort()).toEqual([...Array.from({ length: 12 }, (_, i) => `${i % 2 ? 'paging-a' : 'paging-b'}/p-${i}`), '/hv-9'].sort());
    const host = await repo.list([''], { fieldSelector: parseFieldSelector('involvedObject.kind=Host,involvedObject.name=hv-9,involvedObject.namespace=', EVENT_FIELDS) });
    expect(host.items.map((e) => e.reason)).toEqual(['NotReady']);
    const follower = t.store.follow('Event', from);
    const names = new Set<string>();
    await until('the feed shows the 13 events', async () => {
      for (const ev of await follower.poll()) names.add(ev.object.metadata.name);
      return names.size >= 13;
    }, { timeoutMs: 10_000 });
  });
});
