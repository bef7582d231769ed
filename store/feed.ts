// The change feed: Cassandra has no watch, so every write first appends an entry to `feed`,
// partitioned by (kind, time bucket, shard) and ordered by timeuuid, and marks it committed once
// the object's compare-and-set succeeded. Followers read from a cursor, re-read a short overlap
// window (clocks drift between writers) and de-duplicate; an entry still uncommitted after a grace
// period is confirmed against the object itself, so a crash between the two writes neither loses
// a change nor shows one that never happened.

import type { Client } from 'cassandra-driver';
import { PartitionBatcher } from './batcher';
import { rowsOf } from './paging';
import { GoneError } from '../errors';
import { compareRv, minTimeUuidAtTicks, rvTicks } from './rv';
import type { StoredObject, WatchEvent, WatchEventType } from '../kube/types';
import { systemClock, type Clock } from '../runtime/clock';

export interface FeedSettings {
  /** partitions per kind and bucket, so no single partition takes every write */
  shards: number;
  /** width of a time bucket */
  bucketMs: number;
  /** how long entries are kept (TTL); older cursors get 410 Gone */
  retentionSec: number;
}

export const DEFAULT_FEED_SETTINGS: FeedSettings = { shards: 4, bucketMs: 10_000, retentionSec: 900 };

export interface FeedEntry {
  ts: string;
  ticks: bigint;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  type: WatchEventType;
  body: string;
  committed: boolean;
  /** MODIFIED entries whose labels changed: the labels before, as JSON */
  prevLabels?: string;
}

/** FNV-1a, so every writer maps an object to the same shard. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Feed {
  private readonly batcher: PartitionBatcher;
  constructor(
    private readonly client: Client,
    private readonly ks: string,
    readonly settings: FeedSettings,
  ) {
    this.batcher = new PartitionBatcher(client);
  }

  private partition(e: Pick<FeedEntry, 'kind' | 'ticks' | 'namespace' | 'name'>): string {
    const [kind, bucket, shard] = this.where(e);
    return `${kind}/${bucket}/${shard}`;
  }

  shardOf(namespace: string, name: string): number {
    return hash32(`${namespace}/${name}`) % this.settings.shards;
  }

  bucketOf(ticks: bigint): number {
    return Number(ticks / 10000n / BigInt(this.settings.bucketMs));
  }

  private where(e: Pick<FeedEntry, 'kind' | 'ticks' | 'namespace' | 'name'>): [string, number, number] {
    return [e.kind, this.bucketOf(e.ticks), this.shardOf(e.namespace, e.name)];
  }

  async append(e: FeedEntry): Promise<void> {
    // prev_labels only when there is one: writing a null would leave a tombstone per entry.
    if (e.prevLabels === undefined) {
      await this.batcher.write(this.partition(e),
        `INSERT INTO ${this.ks}.feed (kind, bucket, shard, ts, namespace, name, uid, type, body, committed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        [...this.where(e), e.ts, e.namespace, e.name, e.uid, e.type, e.body, e.committed, this.settings.retentionSec],
      );
      return;
    }
    await this.batcher.write(this.partition(e),
      `INSERT INTO ${this.ks}.feed (kind, bucket, shard, ts, namespace, name, uid, type, body, committed, prev_labels)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      [...this.where(e), e.ts, e.namespace, e.name, e.uid, e.type, e.body, e.committed, e.prevLabels, this.settings.retentionSec],
    );
  }

  async markCommitted(e: FeedEntry): Promise<void> {
    await this.batcher.write(this.partition(e),
      `UPDATE ${this.ks}.feed USING TTL ? SET committed = true WHERE kind = ? AND bucket = ? AND shard = ? AND ts = ?`,
      [this.settings.retentionSec, ...this.where(e), e.ts],
    );
  }

  async remove(e: FeedEntry): Promise<void> {
    await this.batcher.write(this.partition(e), `DELETE FROM ${this.ks}.feed WHERE kind = ? AND bucket = ? AND shard = ? AND ts = ?`, [...this.where(e), e.ts]);
  }

  /** Entries of `kind` with fromTicks < ts <= toTicks, in timeuuid order. */
  async read(kind: string, fromTicks: bigint, toTicks: bigint): Promise<FeedEntry[]> {
    const first = this.bucketOf(fromTicks);
    const last = this.bucketOf(toTicks);
    const from = minTimeUuidAtTicks(fromTicks + 1n);
    const reads: Promise<FeedEntry[]>[] = [];
    for (let b = first; b <= last; b++) {
      for (let s = 0; s < this.settings.shards; s++) reads.push(this.readPartition(kind, b, s, from));
    }
    const all = (await Promise.all(reads)).flat().filter((e) => e.ticks <= toTicks);
    all.sort((a, b) => compareRv(a.ts, b.ts));
    return all;
  }

  private async readPartition(kind: string, bucket: number, shard: number, from: string): Promise<FeedEntry[]> {
    const out: FeedEntry[] = [];
    const rows = rowsOf(this.client,
      `SELECT ts, namespace, name, uid, type, body, committed, prev_labels FROM ${this.ks}.feed
       WHERE kind = ? AND bucket = ? AND shard = ? AND ts > ?`,
      [kind, bucket, shard, from], { fetchSize: 1000 });
    for await (const r of rows) {
      // A row with no body is not an entry: a follower's commit mark that landed after the
      // writer removed the entry (a mark is an UPDATE, which recreates the row with that column
      // alone; a DELETED entry whose compare-and-set lost to another deletion is confirmed by the
      // object being gone). Skipped: its writer's compare-and-set did not apply.
      if (r['body'] == null) continue;
      const ts = String(r['ts']);
      out.push({
        ts, ticks: rvTicks(ts), kind, namespace: r['namespace'], name: r['name'], uid: r['uid'],
        type: r['type'] as WatchEventType, body: r['body'], committed: r['committed'] === true,
        ...(r['prev_labels'] != null ? { prevLabels: String(r['prev_labels']) } : {}),
      });
    }
    return out;
  }
}

/** What a follower learns when it checks an uncommitted entry against the object. */
export type Resolution = 'real' | 'not-yet';

export interface FollowerOptions {
  feed: Feed;
  kind: string;
  /** resume after this resourceVersion; undefined = from now */
  from?: string;
  /** checks an uncommitted entry against the object (read at SERIAL) */
  resolve: (e: FeedEntry) => Promise<Resolution>;
  clock?: Clock;
  /** re-read window for clock skew and write latency; default 1000 ms */
  overlapMs?: number;
  /** how long an uncommitted entry is left to its writer before a follower checks it; default 1500 ms */
  graceMs?: number;
  /** an entry still unconfirmed after this is a write that failed; default 15000 ms */
  abandonMs?: number;
}

/**
 * Follows one kind's feed from a cursor. Call `poll()` repeatedly; `cursor()` is a safe resume
 * point. `T` is the caller's type for the kind's objects (store.follow<T>()).
 */
export class FeedFollower<T extends StoredObject = StoredObject> {
  private position: bigint;
  private readonly seen = new Map<string, bigint>();
  private readonly pending = new Map<string, FeedEntry>();
  private readonly clock: Clock;
  private readonly overlap: bigint;
  private readonly grace: bigint;
  private readonly abandon: bigint;

  constructor(private readonly o: FollowerOptions) {
    this.clock = o.clock ?? systemClock;
    this.overlap = BigInt(o.overlapMs ?? 1000) * 10000n;
    this.grace = BigInt(o.graceMs ?? 1500) * 10000n;
    this.abandon = BigInt(o.abandonMs ?? 15000) * 10000n;
    const now = this.nowTicks();
    if (o.from !== undefined) {
      const t = rvTicks(o.from);
      const oldest = now - BigInt(o.feed.settings.retentionSec) * 10_000_000n + this.overlap;
      if (t < oldest) throw new GoneError(`too old resource version: ${o.from}`);
      this.position = t;
    } else {
      this.position = now;
    }
  }

  private nowTicks(): bigint {
    return BigInt(Math.floor(this.clock.now())) * 10000n;
  }

  /** Nothing to release: a follower holds no connection of its own. */
  close(): void {}

  /** A resourceVersion from which a new follower would miss nothing this one has not emitted. */
  cursor(): string {
    return minTimeUuidAtTicks(this.position);
  }

  async poll(): Promise<WatchEvent<T>[]> {
    const now = this.nowTicks();
    const entries = await this.o.feed.read(this.o.kind, this.position - this.overlap, now);
    const ready: FeedEntry[] = [];
    for (const e of entries) {
      if (this.seen.has(e.ts) || (this.pending.has(e.ts) && !e.committed)) continue;
      if (e.committed) {
        this.pending.delete(e.ts);
        // A committed later write of the same object supersedes an unconfirmed earlier one.
        for (const [ts, p] of this.pending) {
          if (p.namespace === e.namespace && p.name === e.name && p.ticks < e.ticks) this.pending.delete(ts);
        }
        this.seen.set(e.ts, e.ticks);
        ready.push(e);
      } else {
        this.pending.set(e.ts, e);
      }
    }
    // A check that fails (a SERIAL read timing out while the cluster restarts) leaves its entry
    // pending, never abandoned, and does not fail the poll: the committed entries above are
    // already marked seen and must be emitted. Only a poll with nothing to show reports it.
    let failure: unknown;
    for (const [ts, p] of [...this.pending].sort((a, b) => compareRv(a[0], b[0]))) {
      const age = now - p.ticks;
      if (age < this.grace) continue;
      let outcome: Resolution;
      try {
        outcome = await this.o.resolve(p);
      } catch (err) {
        failure ??= err;
        continue;
      }
      if (outcome === 'real') {
        this.pending.delete(ts);
        this.seen.set(ts, p.ticks);
        ready.push(p);
      } else if (age > this.abandon) {
        this.pending.delete(ts);
      }
    }
    let pos = now;
    for (const p of this.pending.values()) if (p.ticks <= pos) pos = p.ticks - 1n;
    if (pos > this.position) this.position = pos;
    const forget = this.position - this.overlap * 2n;
    for (const [ts, t] of this.seen) if (t < forget) this.seen.delete(ts);
    if (failure !== undefined && ready.length === 0) throw failure;
    ready.sort((a, b) => compareRv(a.ts, b.ts));
    return ready.map((e) => toEvent<T>(e));
  }
}

/** The event of a feed entry: its body parsed into the caller's type for the kind (the one boundary). */
export function toEvent<T extends StoredObject = StoredObject>(e: FeedEntry): WatchEvent<T> {
  const object = JSON.parse(e.body) as T;
  return e.prevLabels === undefined ? { type: e.type, object } : { type: e.type, object, prevLabels: JSON.parse(e.prevLabels) as Record<string, string> };
}
