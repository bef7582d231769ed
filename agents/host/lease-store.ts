/**
 * Host leases in Cassandra (table host_leases, one row per host): who holds a host's lease and
 * when it last renewed. Every write is a lightweight transaction (the row is compare-and-set
 * only), so two agents claiming one host name cannot both hold it. A renewal is one small
 * conditional UPDATE. Readers (the host-health controller, `stratus top hosts`) use list()/get().
 */
import { types, type Client } from 'cassandra-driver';

export interface LeaseRecord {
  host: string;
  holder: string;
  /** ms since the epoch, the holder's clock when it last renewed */
  renewTime: number;
  acquireTime: number;
  /** the holder stops its VMs when it could not renew for this long (T_fence) */
  durationMs: number;
  /** how many times the lease changed hands */
  transitions: number;
}

/** What LeaseKeeper needs from storage (tests may wrap it to simulate failures). */
export interface LeaseBackend {
  /** Takes the lease if free, expired or already ours; else returns who holds it. */
  acquire(host: string, holder: string, now: number, durationMs: number): Promise<{ ok: true } | { ok: false; current: LeaseRecord }>;
  /** Renews a lease we hold; false when someone else holds it now. */
  renew(host: string, holder: string, now: number): Promise<boolean>;
}

const SERIAL = { consistency: types.consistencies.localSerial };

function toRecord(row: types.Row): LeaseRecord {
  const ms = (v: unknown) => (v instanceof Date ? v.getTime() : 0);
  return {
    host: row['host'],
    holder: row['holder'] ?? '',
    renewTime: ms(row['renew_time']),
    acquireTime: ms(row['acquire_time']),
    durationMs: row['duration_ms'] ?? 0,
    transitions: row['transitions'] ?? 0,
  };
}

export class LeaseStore implements LeaseBackend {
  private readonly ks: string;

  constructor(private readonly o: { client: Client; keyspace: string }) {
    this.ks = o.keyspace;
  }

  async get(host: string): Promise<LeaseRecord | undefined> {
    const rs = await this.o.client.execute(`SELECT * FROM ${this.ks}.host_leases WHERE host = ?`, [host], SERIAL);
    const row = rs.first();
    return row ? toRecord(row) : undefined;
  }

  /** Every host's lease (one small row per host). */
  async list(): Promise<LeaseRecord[]> {
    const out: LeaseRecord[] = [];
    let pageState: string | undefined;
    do {
      const rs = await this.o.client.execute(`SELECT * FROM ${this.ks}.host_leases`, [], { fetchSize: 1000, pageState });
      for (const r of rs.rows) out.push(toRecord(r));
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  async acquire(host: string, holder: string, now: number, durationMs: number): Promise<{ ok: true } | { ok: false; current: LeaseRecord }> {
    const c = this.o.client;
    const t = new Date(now);
    const ins = await c.execute(
      `INSERT INTO ${this.ks}.host_leases (host, holder, renew_time, acquire_time, duration_ms, transitions) VALUES (?, ?, ?, ?, ?, 0) IF NOT EXISTS`,
      [host, holder, t, t, durationMs],
    );
    if (ins.wasApplied()) return { ok: true };
    const current = toRecord(ins.first());
    if (current.holder === holder) {
      const rs = await c.execute(
        `UPDATE ${this.ks}.host_leases SET renew_time = ?, duration_ms = ? WHERE host = ? IF holder = ?`,
        [t, durationMs, host, holder],
      );
      return rs.wasApplied() ? { ok: true } : { ok: false, current: toRecord(rs.first()) };
    }
    if (now < current.renewTime + current.durationMs) return { ok: false, current };
    // Expired: take it over, unless it was renewed meanwhile.
    const rs = await c.execute(
      `UPDATE ${this.ks}.host_leases SET holder = ?, renew_time = ?, acquire_time = ?, duration_ms = ?, transitions = ?
       WHERE host = ? IF holder = ? AND renew_time = ?`,
      [holder, t, t, durationMs, current.transitions + 1, host, current.holder, new Date(current.renewTime)],
    );
    return rs.wasApplied() ? { ok: true } : { ok: false, current: toRecord(rs.first()) };
  }

  async renew(host: string, holder: string, now: number): Promise<boolean> {
    const rs = await this.o.client.execute(`UPDATE ${this.ks}.host_leases SET renew_time = ? WHERE host = ? IF holder = ?`, [new Date(now), host, holder]);
    return rs.wasApplied();
  }
}
