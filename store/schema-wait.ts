// The components' side of "schema once": they never create tables; they wait until the migration
// step (stratus-migrate) has recorded every migration this code knows, saying what they wait for.
// And the readiness probe of a process: a LOCAL_QUORUM read of a real Stratus table, so /readyz
// turns false when Cassandra cannot answer at the consistency the store needs.

import type { Client } from 'cassandra-driver';
import { types } from 'cassandra-driver';
import type { Logger } from 'pino';
import { errorText, retryWithBackoff } from '../runtime/backoff';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';

export interface SchemaState {
  /** the highest version such that it and every migration before it are recorded (0: none) */
  version: number;
  /** migrations this code knows that are not recorded yet */
  missing: number[];
}

/** Reads which migrations are recorded (at LOCAL_QUORUM); a keyspace or table not created yet reads as version 0. */
export async function readSchemaState(client: Client, keyspace: string): Promise<SchemaState> {
  let ids = new Set<number>();
  try {
    const rs = await client.execute(`SELECT id FROM ${keyspace}.schema_migrations`, [], { consistency: types.consistencies.localQuorum, prepare: false });
    ids = new Set(rs.rows.map((r) => r['id'] as number));
  } catch (err) {
    // Nothing migrated yet: not an error of Cassandra's, just an empty schema.
    if (!/does not exist|unconfigured table|Keyspace .* not found/i.test(String((err as Error).message))) throw err;
  }
  const missing = MIGRATIONS.map((m) => m.id).filter((id) => !ids.has(id));
  let version = 0;
  for (const m of MIGRATIONS) {
    if (!ids.has(m.id)) break;
    version = m.id;
  }
  return { version, missing };
}

/** Why a component is still waiting (also its /readyz reason). */
export function schemaWaitMessage(state: SchemaState): string {
  return `waiting for schema version ${SCHEMA_VERSION} (found ${state.version}): run \`npm run migrate\` / stratus-migrate`;
}

export interface WaitForSchemaOptions {
  client: Client;
  keyspace: string;
  logger?: Logger;
  /** stops waiting (rejects with AbortedError) */
  signal?: AbortSignal;
  /** hears why it is still waiting (the process's /readyz reason) */
  onWait?: (why: string) => void;
  /** delay cap between polls; default 2000 ms */
  maxDelayMs?: number;
  /** give up after this long; default never */
  timeoutMs?: number;
  /** injectable for tests */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

class SchemaNotReady extends Error {
  constructor(readonly state: SchemaState) {
    super(schemaWaitMessage(state));
  }
}

/**
 * Resolves once every migration this code knows is recorded in `keyspace`; polls with backoff
 * (capped at ~2 s) meanwhile, never creating anything. Cassandra errors (not answering, not at
 * quorum) are waited out the same way.
 */
export async function waitForSchema(o: WaitForSchemaOptions): Promise<SchemaState> {
  let said: string | undefined;
  return retryWithBackoff(async () => {
    const state = await readSchemaState(o.client, o.keyspace);
    if (state.missing.length > 0) throw new SchemaNotReady(state);
    return state;
  }, {
    what: `reading the schema version of keyspace ${o.keyspace}`,
    signal: o.signal, maxMs: o.maxDelayMs ?? 2000, timeoutMs: o.timeoutMs, sleep: o.sleep,
    onRetry: (err) => {
      const why = err instanceof SchemaNotReady ? err.message : `waiting for Cassandra: ${errorText(err)}`;
      o.onWait?.(why);
      // Once per distinct reason, not once per poll: a component may wait for minutes.
      if (why !== said) o.logger?.warn({ keyspace: o.keyspace, missing: err instanceof SchemaNotReady ? err.state.missing : undefined }, why);
      said = why;
    },
  });
}

export interface QuorumProbeOptions {
  client: Client;
  keyspace: string;
  /** how long one answer is reused, so probes do not load Cassandra; default 1000 ms */
  cacheMs?: number;
  now?: () => number;
}

/**
 * Readiness of the store: a LOCAL_QUORUM read of this code's schema version row. With too few
 * replicas up (2 of 3 down) it fails with Unavailable, and the reason says so.
 */
export class QuorumProbe {
  private last?: { at: number; result: Promise<string | undefined> };

  constructor(private readonly o: QuorumProbeOptions) {}

  /** undefined when Cassandra answers at LOCAL_QUORUM and the schema is there; else why not. */
  check(): Promise<string | undefined> {
    const now = (this.o.now ?? Date.now)();
    if (this.last && now - this.last.at < (this.o.cacheMs ?? 1000)) return this.last.result;
    const result = this.o.client
      .execute(`SELECT id FROM ${this.o.keyspace}.schema_migrations WHERE id = ?`, [SCHEMA_VERSION], { consistency: types.consistencies.localQuorum })
      .then(
        (rs) => (rs.rowLength > 0 ? undefined : `schema version ${SCHEMA_VERSION} is not recorded in keyspace ${this.o.keyspace}`),
        (err) => `Cassandra cannot answer at LOCAL_QUORUM: ${errorText(err)}`,
      );
    this.last = { at: now, result };
    return result;
  }
}
