// Connecting to Cassandra with the consistency levels the design asks for: LOCAL_QUORUM for reads
// and writes, LOCAL_SERIAL for compare-and-set.

import { Client, types, auth } from 'cassandra-driver';

export interface CassandraOptions {
  /** host[:port] list; default ['127.0.0.1:9042'] */
  contactPoints?: string[];
  /** default 'datacenter1' (the name a single node and SimpleSnitch use) */
  localDataCenter?: string;
  keyspace?: string;
  username?: string;
  password?: string;
  /** default 2 connections per host */
  connectionsPerHost?: number;
  /** default 12000 ms */
  readTimeoutMs?: number;
}

export function createCassandraClient(opts: CassandraOptions = {}): Client {
  return new Client({
    contactPoints: opts.contactPoints ?? ['127.0.0.1:9042'],
    localDataCenter: opts.localDataCenter ?? 'datacenter1',
    keyspace: opts.keyspace,
    authProvider: opts.username ? new auth.PlainTextAuthProvider(opts.username, opts.password ?? '') : undefined,
    pooling: {
      coreConnectionsPerHost: { [types.distance.local]: opts.connectionsPerHost ?? 2, [types.distance.remote]: 1 },
    },
    socketOptions: { readTimeout: opts.readTimeoutMs ?? 12000, connectTimeout: 5000 },
    queryOptions: {
      consistency: types.consistencies.localQuorum,
      serialConsistency: types.consistencies.localSerial,
      prepare: true,
    },
  });
}

/** Parses "host:port,host:port". */
export function parseContactPoints(s: string | undefined): string[] {
  return (s ?? '127.0.0.1:9042').split(',').map((x) => x.trim()).filter(Boolean);
}

/** One trivial query: resolves when the cluster answers (readiness probes). */
export async function pingCassandra(client: Client): Promise<void> {
  await client.execute('SELECT now() FROM system.local');
}
