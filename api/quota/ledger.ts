// The quota ledger: what every VM and Volume of a project is charged, and the project's totals,
// in one Cassandra partition per project (a project-wide invariant, sum <= quota, needs one
// serialization point; every other project is independent). Row '' holds the totals and a version;
// every change is one conditional batch on that partition (IF version = v), so concurrent
// admissions on any number of frontends can never push the totals past the quota.
//
// An item's charge is max(confirmed, in-flight raises): a write that increases an object first
// raises (checked against the quota), then, once the object is written, settles to what the
// object actually asks for; a failed write aborts its raise. Releases happen when the object is
// gone (its uid is remembered, so a late settle cannot resurrect a charge). Raises of a frontend
// that crashed expire after a grace period (the reconciler sweeps them).
//
// On each frontend, operations on one project are queued and committed in groups: one read at
// SERIAL and one compare-and-set for many requests, so a burst of creates costs a few Paxos rounds.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { QuotaExceededError, ServiceUnavailableError } from '../../errors';
import { compareRv } from '../../store';
import type { QuotaRepository } from '../../store/quota';
import { add, describeExcess, equal, exceeded, isZero, max, sub, ZERO, type Amounts, type Limits } from './amounts';
import { sleep, systemClock, type Clock } from '../../runtime';

export interface ChargeState {
  /** confirmed: what the object (uid, rv) asks for */
  c: Amounts;
  uid: string;
  rv: string;
  /** in-flight raises by id: amounts and when (ms) */
  p: Record<string, { a: Amounts; at: number }>;
  /** uids of objects known to be gone, and when (ms): a late settle of theirs is ignored */
  g: Record<string, number>;
}

export interface ObjectCharge {
  uid: string;
  rv: string;
  amounts: Amounts;
}

interface Working {
  totals: Amounts;
  rows: Map<string, ChargeState | undefined>;
  now: number;
}

interface Pending {
  items: string[];
  apply(w: Working): void;
  resolve(): void;
  reject(err: unknown): void;
}

export interface QuotaLedgerOptions {
  /** the quota_usage table */
  repository: QuotaRepository;
  logger?: Logger;
  clock?: Clock;
  /** random source of the retry backoff; default Math.random */
  random?: () => number;
  /** called after a commit changed a project's totals */
  onChange?: (project: string) => void;
  /** operations committed together at most; default 64 */
  maxGroup?: number;
}

const MAX_GONE = 16;

export function emptyCharge(): ChargeState {
  return { c: { ...ZERO }, uid: '', rv: '', p: {}, g: {} };
}

/** What an item counts in the totals. */
export function charged(s: ChargeState | undefined): Amounts {
  if (!s) return { ...ZERO };
  let m = s.c;
  for (const r of Object.values(s.p)) m = max(m, r.a);
  return m;
}

function isEmpty(s: ChargeState | undefined): boolean {
  return !s || (isZero(s.c) && s.uid === '' && Object.keys(s.p).length === 0 && Object.keys(s.g).length === 0);
}

/** A stable text of a row's state (for "unchanged since I looked" checks). */
export function stateKey(s: ChargeState | undefined): string {
  return isEmpty(s) ? '' : JSON.stringify(s);
}

function newer(rv: string, than: string): boolean {
  if (!than) return true;
  try {
    return compareRv(rv, than) > 0;
  } catch {
    return rv !== than;
  }
}

export class QuotaLedger {
  private readonly repo: QuotaRepository;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly queues = new Map<string, Pending[]>();

  constructor(private readonly o: QuotaLedgerOptions) {
    this.repo = o.repository;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
  }

  // ---- operations ----

  /**
   * Reserves `want` for `item` (on top of what it is charged) if the totals stay within `limits`
   * (when `enforce`); returns the raise's id, to settle or abort it. `what` names the object in a refusal.
   */
  async raise(project: string, item: string, want: Amounts, o: { limits?: Limits; enforce: boolean; what: string }): Promise<string> {
    const id = randomBytes(6).toString('hex');
    await this.submit(project, [item], (w) => {
      const row = w.rows.get(item) ?? emptyCharge();
      const before = charged(row);
      const next: ChargeState = { ...row, p: { ...row.p, [id]: { a: want, at: w.now } } };
      const totals = add(w.totals, sub(charged(next), before));
      if (o.enforce) {
        const dims = exceeded(w.totals, totals, o.limits);
        if (dims.length > 0) {
          throw new QuotaExceededError(`${o.what} is forbidden: exceeded quota: ${project}, ${describeExcess(dims, want, w.totals, o.limits!)}`);
        }
      }
      w.rows.set(item, next);
      w.totals = totals;
    });
    return id;
  }

  /** Dry run of raise: throws QuotaExceededError when it would be refused; writes nothing. */
  async check(project: string, item: string, want: Amounts, o: { limits?: Limits; what: string }): Promise<void> {
    if (!o.limits) return;
    const { totals, rows } = await this.read(project, ['', item], false);
    const row = rows.get(item);
    const after = add(totals, sub(max(charged(row), want), charged(row)));
    const dims = exceeded(totals, after, o.limits);
    if (dims.length > 0) throw new QuotaExceededError(`${o.what} is forbidden: exceeded quota: ${project}, ${describeExcess(dims, want, totals, o.limits)}`);
  }

  /** The object was written: its charge becomes what it asks for; the raise (if any) is done. */
  settle(project: string, item: string, obj: ObjectCharge, raiseId?: string): Promise<void> {
    return this.submit(project, [item], (w) => {
      const row = w.rows.get(item) ?? emptyCharge();
      const next: ChargeState = { ...row, p: { ...row.p } };
      if (raiseId) delete next.p[raiseId];
      // Ignored when the object is known to be gone, or older than what the row already describes.
      if (next.g[obj.uid] === undefined && newer(obj.rv, next.rv)) {
        next.c = obj.amounts;
        next.uid = obj.uid;
        next.rv = obj.rv;
      }
      this.put(w, item, row, next);
    });
  }

  /** The write failed: the raise no longer holds anything. */
  abort(project: string, item: string, raiseId: string): Promise<void> {
    return this.submit(project, [item], (w) => {
      const row = w.rows.get(item);
      if (!row || !row.p[raiseId]) return;
      const next: ChargeState = { ...row, p: { ...row.p } };
      delete next.p[raiseId];
      this.put(w, item, row, next);
    });
  }

  /** The object with this uid is gone: its confirmed charge is released. */
  release(project: string, item: string, uid: string): Promise<void> {
    return this.submit(project, [item], (w) => {
      const row = w.rows.get(item) ?? emptyCharge();
      if (row.g[uid] !== undefined) return;
      const next: ChargeState = { ...row, g: { ...row.g, [uid]: w.now } };
      const gone = Object.entries(next.g).sort((a, b) => b[1] - a[1]);
      if (gone.length > MAX_GONE) next.g = Object.fromEntries(gone.slice(0, MAX_GONE));
      if (row.uid === uid) {
        next.c = { ...ZERO };
        next.uid = '';
        next.rv = '';
      }
      this.put(w, item, row, next);
    });
  }

  /**
   * Repair (the reconciler): if the row is still as the caller saw it (`seen`, a stateKey), sets
   * its confirmed charge to the object's (or nothing, when `obj` is undefined: the object is gone)
   * and drops raises and gone-marks older than `olderThan`. Returns whether it changed anything.
   */
  async sync(project: string, item: string, seen: string, obj: ObjectCharge | undefined, olderThan: number): Promise<boolean> {
    let changed = false;
    await this.submit(project, [item], (w) => {
      const row = w.rows.get(item);
      if (stateKey(row) !== seen) return;
      const next: ChargeState = { ...(row ?? emptyCharge()) };
      next.p = Object.fromEntries(Object.entries(next.p).filter(([, r]) => r.at >= olderThan));
      next.g = Object.fromEntries(Object.entries(next.g).filter(([, at]) => at >= olderThan));
      if (obj) {
        if (next.g[obj.uid] === undefined) {
          next.c = obj.amounts;
          next.uid = obj.uid;
          next.rv = obj.rv;
        }
      } else {
        if (next.uid !== '') next.g = { ...next.g, [next.uid]: w.now };
        next.c = { ...ZERO };
        next.uid = '';
        next.rv = '';
      }
      changed = stateKey(next) !== seen;
      this.put(w, item, row, next);
    });
    return changed;
  }

  /** Resolves once no operation is queued or in flight on this frontend (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await sleep(this.clock, 5);
  }

  // ---- reads ----

  async totals(project: string): Promise<Amounts> {
    return (await this.read(project, [''], false)).totals;
  }

  /** Every charged item of a project (read at LOCAL_QUORUM), and the totals. */
  async snapshot(project: string): Promise<{ totals: Amounts; rows: Map<string, ChargeState> }> {
    const rows = new Map<string, ChargeState>();
    let totals: Amounts = { ...ZERO };
    for await (const row of this.repo.rows(project)) {
      if (row.item === '') totals = parseTotals(row.state);
      else if (row.state) rows.set(row.item, parseCharge(row.state));
    }
    return { totals, rows };
  }

  /** Projects that have a ledger (including deleted projects not yet swept). */
  async projects(): Promise<string[]> {
    return this.repo.projects();
  }

  // ---- internals ----

  private put(w: Working, item: string, before: ChargeState | undefined, next: ChargeState): void {
    w.totals = add(w.totals, sub(charged(next), charged(before)));
    w.rows.set(item, isEmpty(next) ? undefined : next);
  }

  private async read(project: string, items: string[], serial: boolean): Promise<{ version: number; totals: Amounts; rows: Map<string, ChargeState | undefined> }> {
    let version = 0;
    let totals: Amounts = { ...ZERO };
    const rows = new Map<string, ChargeState | undefined>();
    for (const row of await this.repo.read(project, items, { serial })) {
      if (row.item === '') {
        version = row.version;
        totals = parseTotals(row.state);
      } else if (row.state) {
        rows.set(row.item, parseCharge(row.state));
      }
    }
    return { version, totals, rows };
  }

  private submit(project: string, items: string[], apply: (w: Working) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const q = this.queues.get(project);
      const p: Pending = { items, apply, resolve, reject };
      if (q) {
        q.push(p);
        return;
      }
      const queue = [p];
      this.queues.set(project, queue);
      void this.drain(project, queue);
    });
  }

  private async drain(project: string, queue: Pending[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const group = queue.splice(0, this.o.maxGroup ?? 64);
        try {
          await this.commit(project, group);
        } catch (err) {
          for (const p of group) p.reject(err);
        }
      }
    } finally {
      this.queues.delete(project);
    }
  }

  private async commit(project: string, group: Pending[]): Promise<void> {
    const items = [...new Set(['', ...group.flatMap((p) => p.items)])];
    for (let attempt = 0; ; attempt++) {
      const cur = await this.read(project, items, true);
      const w: Working = { totals: { ...cur.totals }, rows: new Map(cur.rows), now: this.clock.now() };
      const outcomes = group.map((p) => {
        try {
          p.apply(w);
          return undefined;
        } catch (err) {
          return err ?? new Error('quota operation failed');
        }
      });
      const finish = () => group.forEach((p, i) => (outcomes[i] === undefined ? p.resolve() : p.reject(outcomes[i])));
      const changed = items.filter((i) => i !== '' && stateKey(cur.rows.get(i)) !== stateKey(w.rows.get(i)));
      const totalsChanged = !equal(cur.totals, w.totals);
      if (changed.length === 0 && !totalsChanged) return finish();
      // The writer id makes this totals state unique: it tells whether a commit that timed out landed.
      const totals = JSON.stringify({ used: w.totals, w: randomBytes(6).toString('hex') });
      const rows = new Map(changed.map((item): [string, string | undefined] => {
        const s = w.rows.get(item);
        return [item, s === undefined ? undefined : JSON.stringify(s)];
      }));
      if (await this.repo.commit(project, { version: cur.version, totals, items: rows })) {
        finish();
        if (totalsChanged) this.o.onChange?.(project);
        return;
      }
      if (attempt >= 40) throw new ServiceUnavailableError('the project\'s quota is being changed by too many requests at once; retry');
      await sleep(this.clock, this.random() * Math.min(200, 2 * 2 ** Math.min(attempt, 7)));
    }
  }
}

function parseTotals(state: string | null | undefined): Amounts {
  if (!state) return { ...ZERO };
  const s = JSON.parse(state) as { used?: Amounts };
  return { ...ZERO, ...s.used };
}

function parseCharge(state: string): ChargeState {
  const s = JSON.parse(state) as Partial<ChargeState>;
  return { c: { ...ZERO, ...s.c }, uid: s.uid ?? '', rv: s.rv ?? '', p: s.p ?? {}, g: s.g ?? {} };
}
