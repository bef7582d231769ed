// A fresh keyspace per test file on the run's real Cassandra node, dropped afterwards.
import { randomBytes } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import { createCassandraClient, migrate, ObjectStore, type ObjectStoreOptions } from '../../store';

export interface TestStore {
  client: Client;
  store: ObjectStore;
  keyspace: string;
  close(): Promise<void>;
}

export function cassandraContactPoints(): string[] {
  return (process.env.STRATUS_CASSANDRA ?? '127.0.0.1:9042').split(',');
}

export async function openTestStore(prefix: string, opts: Partial<ObjectStoreOptions> = {}): Promise<TestStore> {
  const keyspace = `t_${prefix.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`.slice(0, 48);
  const client = createCassandraClient({ contactPoints: cassandraContactPoints() });
  await client.connect();
  await migrate({ client, keyspace });
  const store = new ObjectStore({ client, keyspace, ...opts });
  await store.init();
  return {
    client,
    store,
    keyspace,
    async close() {
      await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await client.shutdown();
    },
  };
}
