/**
 * The quota ledger's table (store migration 4): quota_usage ((project), item), one partition per
 * project. Row '' holds the totals and the version every change is compare-and-set on; one row per
 * VM or Volume holds what it is charged. States are opaque text here; what they mean, and the
 * admission rules, are api/quota/ledger.ts.
 */
import { types, type Client } from 'cassandra-driver';
import { isCasTimeout } from './cas';
import { rowsOf } from './paging';

export interface QuotaRow {
  /** '' for the totals row */
  item: string;
  /** the totals row's version (0 when there is none yet; 0 on item rows) */
  version: number;
  state: string | null;
}

/** One change of a project's ledger: the totals row moves from `version` to `version + 1`. */
export interface QuotaCommit {
  version: number;
  /** the totals row's new state; must differ from every earlier one (it tells a timed-out commit apart) */
  totals: string;
  /** item rows to write (state) or to delete (undefined) */
  items: Map<string, string | undefined>;
}

export interface QuotaRepositoryOptions {
  client: Client;
  keyspace: string;
}

const SERIAL = { consistency: types.consistencies.localSerial, prepare: true };

export class QuotaRepository {
  private readonly client: Client;
  private readonly ks: string;

  constructor(o: QuotaRepositoryOptions) {
    this.client = o.client;
    this.ks = o.keyspace;
  }

  /** Some rows of a project ('' is the totals row); at SERIAL before a compare-and-set. */
  async read(project: string, items: string[], opts: { serial?: boolean } = {}): Promise<QuotaRow[]> {
    const rs = await this.client.execute(`SELECT item, version, state FROM ${this.ks}.quota_usage WHERE project = ? AND item IN ?`, [project, items],
      opts.serial ? SERIAL : { prepare: true });
    return rs.rows.map(rowOf);
  }

  /** Every row of a project (read at LOCAL_QUORUM, paged). */
  async *rows(project: string): AsyncGenerator<QuotaRow> {
    for await (const r of rowsOf(this.client, `SELECT item, state FROM ${this.ks}.quota_usage WHERE project = ?`, [project], { fetchSize: 1000 })) {
      yield rowOf(r);
    }
  }

  /** Projects that have a ledger. */
  async projects(): Promise<string[]> {
    const out: string[] = [];
    for await (const r of rowsOf(this.client, `SELECT DISTINCT project FROM ${this.ks}.quota_usage`, [], { fetchSize: 1000 })) {
      out.push(r['project'] as string);
    }
    return out;
  }

  /**
   * Applies a change in one conditional batch on the project's partition, if the totals row is
   * still at `c.version`. Returns whether it was applied; when the outcome is unknown (a CAS
   * timeout), a SERIAL read finishes any Paxos round in flight and the totals row tells.
   */
  async commit(project: string, c: QuotaCommit): Promise<boolean> {
    const version = types.Long.fromNumber(c.version + 1);
    const stmts: { query: string; params: unknown[] }[] = [c.version === 0
      ? { query: `INSERT INTO ${this.ks}.quota_usage (project, item, version, state) VALUES (?, '', ?, ?) IF NOT EXISTS`, params: [project, version, c.totals] }
      : { query: `UPDATE ${this.ks}.quota_usage SET version = ?, state = ? WHERE project = ? AND item = '' IF version = ?`, params: [version, c.totals, project, types.Long.fromNumber(c.version)] }];
    for (const [item, state] of c.items) {
      stmts.push(state === undefined
        ? { query: `DELETE FROM ${this.ks}.quota_usage WHERE project = ? AND item = ?`, params: [project, item] }
        : { query: `INSERT INTO ${this.ks}.quota_usage (project, item, state) VALUES (?, ?, ?)`, params: [project, item, state] });
    }
    try {
      return (await this.client.batch(stmts, { prepare: true })).wasApplied();
    } catch (err) {
      if (!isCasTimeout(err)) throw err;
      const [after] = await this.read(project, [''], { serial: true });
      return !!after && after.version === c.version + 1 && after.state === c.totals;
    }
  }
}

function rowOf(r: types.Row): QuotaRow {
  return { item: r['item'] as string, version: r['version'] ? Number(r['version']) : 0, state: (r['state'] as string | null) ?? null };
}
