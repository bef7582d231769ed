/**
 * The set-up every placement test file shares: one keyspace per file (creating one costs
 * seconds), scheduler replicas started through the suite so they are stopped after each test, and
 * the placement objects removed so each test starts from an empty cluster.
 */
import { ALLOCATION_KIND } from '../../controllers/placement/allocation-record';
import { TOPOLOGY_CLAIM_KIND } from '../../controllers/placement/topology-claims';
import { startReplicas, type RunningReplicas } from './replicas';
import type { ObjectStore } from '../../store';
import { openTestStore, type TestStore } from './store';

type ReplicaArgs = Parameters<typeof startReplicas> extends [ObjectStore, ...infer R] ? R : never;

export interface PlacementSuite {
  readonly store: ObjectStore;
  /** startReplicas on the suite's store; stopped after the test */
  start(...args: ReplicaArgs): Promise<RunningReplicas>;
}

const KINDS = ['VirtualMachine', 'Volume', ALLOCATION_KIND, TOPOLOGY_CLAIM_KIND, 'Host'];

export function placementSuite(name: string, feed: { followerGraceMs: number; followerOverlapMs?: number } = { followerGraceMs: 200 }): PlacementSuite {
  let t: TestStore | undefined;
  let running: RunningReplicas | undefined;
  const suite: PlacementSuite = {
    get store() {
      if (!t) throw new Error('placementSuite: the store opens in beforeAll');
      return t.store;
    },
    async start(...args) {
      running = await startReplicas(suite.store, ...args);
      return running;
    },
  };
  const stop = async () => {
    await running?.stop();
    running = undefined;
  };
  beforeAll(async () => {
    t = await openTestStore(name, feed);
  });
  afterEach(async () => {
    await stop();
    await removeAll(suite.store, KINDS);
  });
  afterAll(async () => {
    await stop();
    await t?.close();
  });
  return suite;
}

/** Deletes every object of `kinds` (finalizers left in place are the tests' own business). */
export async function removeAll(store: ObjectStore, kinds: string[]): Promise<void> {
  for (const kind of kinds) {
    for (let page = await store.list(kind, undefined, { limit: 1000 }); page.items.length > 0; page = await store.list(kind, undefined, { limit: 1000 })) {
      const before = page.items.length;
      await Promise.all(page.items.map((o) => store.delete({ kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name }).catch(() => undefined)));
      const after = await store.list(kind, undefined, { limit: 1000 });
      if (after.items.length >= before) break; // only objects held by finalizers are left
    }
  }
}
