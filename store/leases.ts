/**
 * Leases in Cassandra, one row per name, every write a lightweight transaction (the rows are
 * compare-and-set only), so two holders can never both hold one name. Two families, each its own
 * table so each component's Cassandra role reaches only its own (scripts/cassandra-roles.js):
 *   host   host_leases  (host)     the agents' heartbeat lease; fencing hangs on it (agents/host/lease.ts)
 *   quota  quota_leases (project)  which frontend recomputes a project's quota usage this period
 * A holder acquires (free, expired, or already its own), renews with one small conditional UPDATE,
 * and loses the lease when it stops renewing for its duration.
 */
import { types, type Client } from 'cassandra-driver';
import { rowsOf } from './paging';

export interface LeaseRecord {
  /** the host, or the project */
  name: string;
  holder: string;
  /** ms since the epoch, the holder's clock when it last renewed (0: never, or a row older than migration 6) */
  renewTime: number;
  acquireTime: number;
  /** how long the lease lasts without a renewal (for a host: T_fence, after which its agent stops its VMs) */
  durationMs: number;
  /** how many times the lease changed hands */
  transitions: number;
}

export type AcquireResult = { ok: true } | { ok: false; current: LeaseRecord };

export const LEASE_FAMILIES = {
  host: { table: 'host_leases', key: 'host' },
  quota: { table: 'quota_leases', key: 'project' },
} as const;

export interface LeaseRepositoryOptions {
  client: Client;
  keyspace: string;
  /** which leases; default 'host' */
  family?: keyof typeof LEASE_FAMILIES;
}

const SERIAL = { consistency: types.consistencies.localSerial };
const ms = (v: unknown) => (v instanceof Date ? v.getTime() : 0);

export class LeaseRepository {
  private readonly client: Client;
  private readonly table: string;
  private readonly key: string;

  constructor(o: LeaseRepositoryOptions) {
    this.client = o.client;
    const f = LEASE_FAMILIES[o.family ?? 'host'];
    this.table = `${o.keyspace}.${f.table}`;
    this.key = f.key;
  }

  async get(name: string): Promise<LeaseRecord | undefined> {
    const rs = await this.client.execute(`SELECT * FROM ${this.table} WHERE ${this.key} = ?`, [name], SERIAL);
    const row = rs.first();
    return row ? this.record(row) : undefined;
  }

  /** Every lease of the family (one small row each). */
  async list(): Promise<LeaseRecord[]> {
    const out: LeaseRecord[] = [];
    for await (const r of rowsOf(this.client, `SELECT * FROM ${this.table}`, [], { fetchSize: 1000 })) out.push(this.record(r));
    return out;
  }

  /** Takes the lease if free, expired or already ours (then renews it); else returns who holds it. */
  async acquire(name: string, holder: string, now: number, durationMs: number): Promise<AcquireResult> {
    const t = new Date(now);
    const ins = await this.client.execute(
      `INSERT INTO ${this.table} (${this.key}, holder, renew_time, acquire_time, duration_ms, transitions) VALUES (?, ?, ?, ?, ?, 0) IF NOT EXISTS`,
      [name, holder, t, t, durationMs],
    );
    if (ins.wasApplied()) return { ok: true };
    const row = ins.first();
    const current = this.record(row);
    if (current.holder === holder) {
      const rs = await this.client.execute(
        `UPDATE ${this.table} SET renew_time = ?, duration_ms = ? WHERE ${this.key} = ? IF holder = ?`,
        [t, durationMs, name, holder],
      );
      return rs.wasApplied() ? { ok: true } : { ok: false, current: this.record(rs.first()) };
    }
    if (now < current.renewTime + current.durationMs) return { ok: false, current };
    // Expired: take it over, unless it was renewed meanwhile.
    const rs = await this.client.execute(
      `UPDATE ${this.table} SET holder = ?, renew_time = ?, acquire_time = ?, duration_ms = ?, transitions = ?
       WHERE ${this.key} = ? IF holder = ? AND renew_time = ?`,
      [holder, t, t, durationMs, current.transitions + 1, name, row['holder'] ?? null, row['renew_time'] ?? null],
    );
    return rs.wasApplied() ? { ok: true } : { ok: false, current: this.record(rs.first()) };
  }

  /** Renews a lease we hold; false when someone else holds it now. */
  async renew(name: string, holder: string, now: number): Promise<boolean> {
    const rs = await this.client.execute(`UPDATE ${this.table} SET renew_time = ? WHERE ${this.key} = ? IF holder = ?`, [new Date(now), name, holder]);
    return rs.wasApplied();
  }

  private record(row: types.Row): LeaseRecord {
    return {
      name: row[this.key],
      holder: row['holder'] ?? '',
      renewTime: ms(row['renew_time']),
      acquireTime: ms(row['acquire_time']),
      durationMs: row['duration_ms'] ?? 0,
      transitions: row['transitions'] ?? 0,
    };
  }
}
