// Reading the harness's Cassandra directly: objects counted where they are stored (not only what
// the API lists), a node's view of its peers, and reads pinned to one node (did it catch up?).

import { Client, policies, types } from 'cassandra-driver';
import type { CassandraCluster } from './procs';

const KIND = 'VirtualMachine';

function connect(contactPoints: string[], only?: string): Client {
  return new Client({
    contactPoints,
    localDataCenter: 'datacenter1',
    // Pinned to one node: it coordinates every query (and, being a replica of everything with
    // RF 3 on 3 nodes, answers ONE reads from its own data).
    policies: only ? { loadBalancing: new policies.loadBalancing.AllowListPolicy(new policies.loadBalancing.RoundRobinPolicy(), [only]) } : undefined,
    socketOptions: { readTimeout: 20_000, connectTimeout: 5000 },
  });
}

/** Names of the VMs of `namespace` stored in Cassandra (object_names, at QUORUM), and how often each appears. */
export async function storedVmNames(c: CassandraCluster, keyspace: string, namespace: string): Promise<string[]> {
  const client = connect(c.contactPoints);
  try {
    const names: string[] = [];
    let pageState: string | undefined;
    do {
      const rs = await client.execute(`SELECT name FROM ${keyspace}.object_names WHERE kind = ? AND namespace = ?`, [KIND, namespace],
        { prepare: true, fetchSize: 1000, pageState, consistency: types.consistencies.quorum });
      for (const row of rs.rows) names.push(row['name'] as string);
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return names;
  } finally {
    await client.shutdown();
  }
}

/** The VMs of `names` whose object row cannot be read at `consistency` through `node` (host:port) only. */
export async function missingOn(c: CassandraCluster, keyspace: string, namespace: string, names: string[], consistency: 'one' | 'all' | 'quorum', node?: string): Promise<string[]> {
  const client = connect(node ? [node] : c.contactPoints, node);
  const missing: string[] = [];
  try {
    const cl = types.consistencies[consistency];
    for (let i = 0; i < names.length; i += 32) {
      await Promise.all(names.slice(i, i + 32).map(async (name) => {
        const rs = await client.execute(`SELECT uid FROM ${keyspace}.objects WHERE kind = ? AND namespace = ? AND name = ?`, [KIND, namespace, name], { prepare: true, consistency: cl });
        if (rs.rowLength === 0) missing.push(name);
      }));
    }
    return missing;
  } finally {
    await client.shutdown();
  }
}

/** How many peers each node lists in system.peers_v2 (asked of that node only). */
export async function peerCounts(c: CassandraCluster): Promise<number[]> {
  const out: number[] = [];
  for (const cp of c.contactPoints) {
    const client = connect([cp], cp);
    try {
      const rs = await client.execute('SELECT peer FROM system.peers_v2', [], { consistency: types.consistencies.one });
      out.push(rs.rowLength);
    } finally {
      await client.shutdown();
    }
  }
  return out;
}
