// Cluster secrets (store/cluster-secrets.ts, migration 8): created once, whoever comes first; every
// frontend and agent then reads the same bytes.
import { randomBytes } from 'node:crypto';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../../store/cluster-secrets';
import { openTestStore, type TestStore } from '../helpers/store';

let t: TestStore;
beforeAll(async () => { t = await openTestStore('secrets'); });
afterAll(async () => { await t?.close(); });

test('processes starting at once all get the one secret that was created, and keep getting it', async () => {
  const repos = Array.from({ length: 6 }, () => new ClusterSecretRepository({ client: t.client, keyspace: t.keyspace }));
  const got = await Promise.all(repos.map((r) => r.getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32))));
  expect(got[0]).toHaveLength(32);
  for (const g of got) expect(g.equals(got[0])).toBe(true);
  const later = await repos[0].getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32));
  expect(later.equals(got[0])).toBe(true);
  const rows = await t.client.execute(`SELECT name FROM ${t.keyspace}.cluster_secrets`);
  expect(rows.rows.map((r) => r['name'])).toEqual([CONSOLE_TOKEN_SECRET]);
});
