/**
 * Cluster secrets in Cassandra (table cluster_secrets, migration 8): random keys that every frontend
 * and agent reads at start, e.g. the key that signs console tokens. Users never reach Cassandra.
 *   cluster_secrets (name)   created once by whichever process comes first (INSERT IF NOT EXISTS),
 *                            never overwritten: a lightweight transaction both writes and reads it
 */
import { types, type Client } from 'cassandra-driver';

export interface ClusterSecretRepositoryOptions {
  client: Client;
  keyspace: string;
}

/** The name of the key that signs the tokens frontends give agents to open consoles and logs. */
export const CONSOLE_TOKEN_SECRET = 'console-token-key';

export class ClusterSecretRepository {
  private readonly client: Client;
  private readonly ks: string;

  constructor(o: ClusterSecretRepositoryOptions) {
    this.client = o.client;
    this.ks = o.keyspace;
  }

  /**
   * The secret `name`, created from `make()` if there is none yet. Concurrent callers all get the
   * value of the one insert that won (a failed lightweight transaction returns the existing row).
   */
  async getOrCreate(name: string, make: () => Buffer): Promise<Buffer> {
    const fresh = make();
    const rs = await this.client.execute(
      `INSERT INTO ${this.ks}.cluster_secrets (name, value, created_at) VALUES (?, ?, ?) IF NOT EXISTS`,
      [name, fresh, new Date()],
      { prepare: true, serialConsistency: types.consistencies.localSerial },
    );
    if (rs.wasApplied()) return fresh;
    const value = rs.first()?.['value'] as Buffer | null | undefined;
    if (!value || value.length === 0) throw new Error(`cluster secret ${name} exists but is empty`);
    return value;
  }
}
