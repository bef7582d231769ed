// Feed polls on a real Cassandra node that must lose nothing: a row with no body (a follower's
// commit mark that landed after its writer removed the entry) is skipped instead of parsed as a
// null object, and a failed check of an uncommitted entry does not drop the poll's other events.
import { FeedFollower, rvTicks, type StoredObject, type WatchEvent } from '../../store';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';

let t: TestStore;

beforeAll(async () => {
  t = await openTestStore('feed_stray', { followerGraceMs: 200 });
});
afterAll(async () => t.close());

function img(name: string): StoredObject {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name, namespace: 'demo' }, spec: {} };
}

test('a commit mark whose entry was removed (a row with no body) is skipped: polls go on and later entries arrive', async () => {
  // Polls used to parse its null body and throw (informers and watches stuck on it, retrying).
  const follower = t.store.follow('Image', t.store.currentResourceVersion());
  await t.store.create(img('stray-anchor'));
  const ts = t.store.currentResourceVersion();
  await t.store.feed.markCommitted({ ts, ticks: rvTicks(ts), kind: 'Image', namespace: 'demo', name: 'ghost', uid: ts, type: 'DELETED', body: '', committed: true });
  const rows = await t.client.execute(`SELECT body, committed FROM ${t.keyspace}.feed WHERE kind = 'Image' AND bucket = ? AND shard = ? AND ts = ?`,
    [t.store.feed.bucketOf(rvTicks(ts)), t.store.feed.shardOf('demo', 'ghost'), ts], { prepare: true });
  expect(rows.rows.map((r) => [r['body'], r['committed']])).toEqual([[null, true]]);
  await t.store.create(img('after-stray'));
  const events: WatchEvent[] = [];
  await until('the entry after the stray mark', async () => {
    events.push(...(await follower.poll()));
    return events.some((e) => e.object?.metadata.name === 'after-stray');
  }, { timeoutMs: 20_000, everyMs: 20 });
  expect(events.map((e) => `${e.type} ${e.object?.metadata.name}`)).toEqual(['ADDED stray-anchor', 'ADDED after-stray']);
});

test('a check of an uncommitted entry that fails (a SERIAL read timing out) loses nothing: the poll still emits what it read, the entry stays pending', async () => {
  // Before: the poll threw after marking the committed entries it had read as seen, so they were
  // never emitted (an agent restarted with its cluster never saw a VM bound to it).
  await new Promise((r) => setTimeout(r, 1200)); // earlier entries out of the 1 s overlap
  const from = t.store.currentResourceVersion();
  const done = await t.store.create(img('committed-one'));
  const ts = t.store.currentResourceVersion();
  await t.store.feed.append({ ts, ticks: rvTicks(ts), kind: 'Image', namespace: 'demo', name: 'never-written', uid: ts, type: 'ADDED', body: JSON.stringify(img('never-written')), committed: false });
  await new Promise((r) => setTimeout(r, 100));
  let failing = true;
  let checks = 0;
  const follower = new FeedFollower({
    feed: t.store.feed, kind: 'Image', from, graceMs: 0,
    resolve: async () => {
      checks++;
      if (failing) throw new Error('Server timeout during write query at consistency LOCAL_SERIAL');
      return 'not-yet';
    },
  });
  const first = await follower.poll();
  expect(first.map((e) => e.object.metadata.resourceVersion)).toEqual([done.metadata.resourceVersion]);
  expect(checks).toBe(1);
  await expect(follower.poll()).rejects.toThrow(/LOCAL_SERIAL/);
  failing = false;
  expect(await follower.poll()).toEqual([]);
  expect(checks).toBe(3);
});
