// The lease repository on a real Cassandra node: one holder at a time, renewal, takeover after
// expiry, the host and quota families kept apart, and quota leases written before migration 6.
import { LeaseRepository } from '../../store/leases';
import { openTestStore, type TestStore } from '../helpers/store';

let t: TestStore;
let hosts: LeaseRepository;
let quota: LeaseRepository;
const T0 = Date.parse('2030-01-01T00:00:00Z');

beforeAll(async () => {
  t = await openTestStore('leases');
  hosts = new LeaseRepository({ client: t.client, keyspace: t.keyspace });
  quota = new LeaseRepository({ client: t.client, keyspace: t.keyspace, family: 'quota' });
});
afterAll(async () => t.close());

test('a free lease goes to the first holder; another is told who holds it until it expires', async () => {
  expect(await hosts.acquire('hv-1', 'agent-a', T0, 5000)).toEqual({ ok: true });
  const refused = await hosts.acquire('hv-1', 'agent-b', T0 + 1000, 5000);
  expect(refused).toMatchObject({ ok: false, current: { name: 'hv-1', holder: 'agent-a', renewTime: T0, durationMs: 5000, transitions: 0 } });
  expect(await hosts.renew('hv-1', 'agent-b', T0 + 1000)).toBe(false);
  expect(await hosts.get('hv-1')).toMatchObject({ holder: 'agent-a', renewTime: T0 });
});

test('the holder renews and re-acquires its own lease; a renewal pushes the expiry back', async () => {
  expect(await hosts.acquire('hv-2', 'agent-a', T0, 5000)).toEqual({ ok: true });
  expect(await hosts.renew('hv-2', 'agent-a', T0 + 4000)).toBe(true);
  // Expired from the first acquisition, not from the renewal: still held.
  expect(await hosts.acquire('hv-2', 'agent-b', T0 + 6000, 5000)).toMatchObject({ ok: false, current: { holder: 'agent-a' } });
  expect(await hosts.acquire('hv-2', 'agent-a', T0 + 7000, 8000)).toEqual({ ok: true });
  expect(await hosts.get('hv-2')).toMatchObject({ holder: 'agent-a', renewTime: T0 + 7000, acquireTime: T0, durationMs: 8000, transitions: 0 });
});

test('an expired lease is taken over once, counting the transition, and its old holder can no longer renew', async () => {
  expect(await hosts.acquire('hv-3', 'agent-a', T0, 5000)).toEqual({ ok: true });
  const [b, c] = await Promise.all([
    hosts.acquire('hv-3', 'agent-b', T0 + 5000, 5000),
    hosts.acquire('hv-3', 'agent-c', T0 + 5000, 5000),
  ]);
  expect([b.ok, c.ok].filter(Boolean)).toHaveLength(1);
  const winner = b.ok ? 'agent-b' : 'agent-c';
  expect(await hosts.get('hv-3')).toMatchObject({ holder: winner, renewTime: T0 + 5000, acquireTime: T0 + 5000, transitions: 1 });
  expect(await hosts.renew('hv-3', 'agent-a', T0 + 5100)).toBe(false);
});

test('host and quota leases are separate families: the same name is held independently and listed apart', async () => {
  expect(await quota.acquire('hv-1', 'frontend-1', T0, 1000)).toEqual({ ok: true });
  expect(await hosts.get('hv-1')).toMatchObject({ holder: 'agent-a' });
  expect(await quota.get('hv-1')).toMatchObject({ name: 'hv-1', holder: 'frontend-1' });
  expect((await quota.list()).map((l) => l.name)).toEqual(['hv-1']);
  expect((await hosts.list()).map((l) => l.name).sort()).toEqual(['hv-1', 'hv-2', 'hv-3']);
});

test('a quota lease row from before migration 6 (holder only) counts as expired and is taken over', async () => {
  await t.client.execute(`INSERT INTO ${t.keyspace}.quota_leases (project, holder) VALUES ('old', 'gone') IF NOT EXISTS`);
  expect(await quota.get('old')).toMatchObject({ holder: 'gone', renewTime: 0, durationMs: 0 });
  expect(await quota.acquire('old', 'frontend-2', T0, 1000)).toEqual({ ok: true });
  expect(await quota.get('old')).toMatchObject({ holder: 'frontend-2', renewTime: T0, transitions: 1 });
});
