// Keeps the quota ledger true to the objects, whatever crashed when:
//  - a follower of the change feed releases the charge of every VM and Volume that is gone
//    (deleted through the API, or by an agent removing the last finalizer);
//  - a periodic pass per project (one frontend per project and period, by a lease) recomputes
//    every charge from the objects: charges of objects that no longer exist are dropped, objects
//    without a charge get one, raises older than the grace period (a frontend died between
//    reserving and writing) expire. Each repair is conditional on the row being unchanged since
//    it was read, so it never undoes an admission that happened meanwhile.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Periodic, systemClock, type Clock } from '../../runtime';
import type { FeedFollower, ObjectStore, StoredObject } from '../../store';
import type { LeaseRepository } from '../../store/leases';
import { CHARGED_KINDS, equal } from './amounts';
import { chargeOf, itemOf } from './admission';
import { stateKey, type ChargeState, type QuotaLedger } from './ledger';
import type { UsageStatusWriter } from './status-writer';

export interface QuotaReconcilerOptions {
  /** the quota leases: one frontend per project and period */
  leases: LeaseRepository;
  store: ObjectStore;
  ledger: QuotaLedger;
  status?: UsageStatusWriter;
  logger?: Logger;
  clock?: Clock;
  /** random source of the passes' jitter; default Math.random */
  random?: () => number;
  /** how often every project is recomputed; default 300,000 ms */
  resyncMs?: number;
  /** age after which a raise that was never settled is dropped; default 120,000 ms */
  graceMs?: number;
  /** how often the feed is read for deletions; default 1000 ms */
  followMs?: number;
  identity?: string;
}

export interface ReconcileResult {
  repaired: number;
  items: number;
}

export class QuotaReconciler {
  private readonly clock: Clock;
  private readonly identity: string;

  constructor(private readonly o: QuotaReconcilerOptions) {
    this.clock = o.clock ?? systemClock;
    this.identity = o.identity ?? `${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** Runs the deletion follower and the periodic pass until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const every = this.o.resyncMs ?? 300_000;
    const followers = new Map<string, FeedFollower>();
    for (const kind of CHARGED_KINDS) followers.set(kind, this.o.store.follow(kind));
    const follow = new Periodic({
      name: 'quota-deletion-follower', periodMs: this.o.followMs ?? 1000, first: 'immediate', clock: this.clock,
      run: () => this.followOnce(followers),
    });
    // Passes at jittered intervals (the first one too: frontends started together spread out).
    const passes = new Periodic({
      name: 'quota-reconcile', periodMs: every, jitter: 0.1, first: { min: 0.3, max: 1 }, clock: this.clock, random: this.o.random,
      logger: this.o.logger, errorMessage: 'quota reconcile pass failed', run: () => this.reconcileAll(),
    });
    await Promise.all([follow.start(signal), passes.start(signal)]);
  }

  /** Releases the charge of every VM and Volume deleted since the last call. */
  private async followOnce(followers: Map<string, FeedFollower>): Promise<void> {
    for (const [kind, f] of followers) {
      try {
        for (const ev of await f.poll()) {
          if (ev.type !== 'DELETED') continue;
          const m = ev.object.metadata;
          await this.o.ledger.release(m.namespace ?? '', itemOf(kind, m.name), m.uid ?? '')
            .catch((err) => this.o.logger?.warn({ err: String(err), kind, name: m.name }, 'could not release quota'));
        }
      } catch (err) {
        // Fell behind the feed's retention (410) or the store failed: start from now; the periodic pass repairs the gap.
        this.o.logger?.warn({ err: String(err), kind }, 'quota deletion follower restarts');
        followers.set(kind, this.o.store.follow(kind));
      }
    }
  }

  /** One pass over every project that has objects or a ledger, each by at most one frontend per period. */
  async reconcileAll(): Promise<void> {
    const names = new Set(await this.o.ledger.projects());
    let cont: string | undefined;
    do {
      const page = await this.o.store.list('Project', undefined, { continue: cont });
      for (const p of page.items) names.add(p.metadata.name);
      cont = page.continue;
    } while (cont);
    // Shorter than the period: the next pass may go to any frontend.
    const leaseMs = Math.max(1, Math.floor(((this.o.resyncMs ?? 300_000) / 1000) * 0.8)) * 1000;
    for (const project of names) {
      const lease = await this.o.leases.acquire(project, this.identity, this.clock.now(), leaseMs);
      if (!lease.ok) continue;
      await this.reconcileProject(project).catch((err) => this.o.logger?.warn({ err: String(err), project }, 'quota reconcile failed'));
    }
  }

  /** Recomputes one project's charges from its objects; returns how many rows it repaired. */
  async reconcileProject(project: string): Promise<ReconcileResult> {
    const olderThan = this.clock.now() - (this.o.graceMs ?? 120_000);
    // The ledger first, then the objects: an object created meanwhile has a charge or a raise already.
    const { rows } = await this.o.ledger.snapshot(project);
    const objects = new Map<string, StoredObject>();
    for (const kind of CHARGED_KINDS) {
      let cont: string | undefined;
      do {
        const page = await this.o.store.list(kind, project, { continue: cont, limit: 1000 });
        for (const obj of page.items) objects.set(itemOf(kind, obj.metadata.name), obj);
        cont = page.continue;
      } while (cont);
    }
    let repaired = 0;
    for (const item of new Set([...rows.keys(), ...objects.keys()])) {
      const row = rows.get(item);
      const obj = objects.get(item);
      if (!this.needsRepair(row, obj, olderThan)) continue;
      const slash = item.indexOf('/');
      // Read the object at SERIAL right before repairing: the repair must describe it as it is now.
      const fresh = await this.o.store.get({ kind: item.slice(0, slash), namespace: project, name: item.slice(slash + 1) }, { serial: true });
      if (await this.o.ledger.sync(project, item, stateKey(row), fresh ? chargeOf(fresh) : undefined, olderThan)) repaired++;
    }
    if (repaired > 0) this.o.logger?.info({ project, repaired }, 'quota usage repaired');
    await this.o.status?.write(project);
    return { repaired, items: objects.size };
  }

  private needsRepair(row: ChargeState | undefined, obj: StoredObject | undefined, olderThan: number): boolean {
    const stale = !!row && (Object.values(row.p).some((r) => r.at < olderThan) || Object.values(row.g).some((at) => at < olderThan));
    if (!obj) return !!row && (row.uid !== '' || stale || (Object.keys(row.p).length === 0 && Object.keys(row.g).length === 0));
    if (!row) return true;
    if (stale) return true;
    const want = chargeOf(obj);
    if (row.g[want.uid] !== undefined) return false;
    return row.uid !== want.uid || !equal(row.c, want.amounts);
  }
}
