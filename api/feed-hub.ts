// One change-feed follower per kind per frontend, shared by every watch stream of that kind: a
// thousand `kubectl get -w` cost Cassandra what one costs. Recent events are kept in memory so a
// watch that starts from a recent resourceVersion (a list's, a bookmark's) is served from the
// buffer; an older cursor gets a follower of its own.

import type { Logger } from 'pino';
import { rvTicks, type FeedFollower, type ObjectStore, type WatchEvent } from '../store';
import { systemClock, type Clock } from '../runtime';

/** What a watch stream reads events from. */
export interface EventSource {
  /** Events since the last call, oldest first. */
  poll(): Promise<WatchEvent[]>;
  /**
   * A resourceVersion from which nothing after the events returned so far would be missed; taken
   * before a poll(), also one that the events that poll returns cover (resuming from it may
   * replay some of them, never skip one).
   */
  cursor(): string;
  close(): void;
}

export interface FeedHubOptions {
  store: ObjectStore;
  logger: Logger;
  /** how often the shared follower reads the feed; default 250 ms */
  pollMs?: number;
  /** how long events stay in memory for new watches; default 120 s */
  bufferMs?: number;
  /** at most this many buffered events per kind; default 20,000 */
  bufferMax?: number;
  /** the overlap replayed before a cursor, as the store's followers do; default 1000 ms */
  overlapMs?: number;
  /** a kind with no watchers for this long stops being followed; default 60 s */
  idleMs?: number;
  clock?: Clock;
}

interface Buffered { ticks: bigint; event: WatchEvent }

class KindFeed {
  follower: FeedFollower;
  /** events older than this position may be missing from the buffer */
  readonly origin: bigint;
  buffer: Buffered[] = [];
  subs = new Set<Subscription>();
  idleSince = 0;
  timer?: unknown;
  /**
   * The follower's cursor as of the events already handed to the subscriptions' queues. Read
   * only after a step has queued what it read, so a subscriber that takes it before draining its
   * queue has every event up to it (the follower's own cursor moves before the events are queued).
   */
  delivered: string;

  constructor(store: ObjectStore, readonly kind: string, now: number) {
    this.follower = store.follow(kind);
    this.origin = BigInt(now) * 10000n;
    this.delivered = this.follower.cursor();
  }
}

class Subscription implements EventSource {
  queue: WatchEvent[] = [];
  closed = false;
  constructor(private readonly feed: KindFeed, private readonly hub: FeedHub) {}
  async poll(): Promise<WatchEvent[]> {
    const q = this.queue;
    this.queue = [];
    return q;
  }
  cursor(): string {
    return this.feed.delivered;
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feed.subs.delete(this);
    this.hub.released(this.feed);
  }
}

class Dedicated implements EventSource {
  constructor(private readonly f: FeedFollower) {}
  poll(): Promise<WatchEvent[]> {
    return this.f.poll();
  }
  cursor(): string {
    return this.f.cursor();
  }
  close(): void {}
}

export class FeedHub {
  private readonly feeds = new Map<string, KindFeed>();
  private readonly pollMs: number;
  private readonly bufferTicks: bigint;
  private readonly bufferMax: number;
  private readonly overlapTicks: bigint;
  private readonly idleMs: number;
  private readonly clock: Clock;
  private readonly ending = new AbortController();
  /** aborted when the frontend starts draining: every watch sends its last events (and a BOOKMARK) and ends */
  readonly draining: AbortSignal = this.ending.signal;

  constructor(private readonly o: FeedHubOptions) {
    this.pollMs = o.pollMs ?? 250;
    this.bufferTicks = BigInt(o.bufferMs ?? 120_000) * 10000n;
    this.bufferMax = o.bufferMax ?? 20_000;
    this.overlapTicks = BigInt(o.overlapMs ?? 1000) * 10000n;
    this.idleMs = o.idleMs ?? 60_000;
    this.clock = o.clock ?? systemClock;
  }

  /** Opens a source of `kind`'s events after `from` (a resourceVersion), or from now. */
  open(kind: string, from?: string): EventSource {
    const now = this.clock.now();
    let feed = this.feeds.get(kind);
    const fromTicks = from === undefined ? undefined : rvTicks(from);
    if (fromTicks !== undefined && (!feed || fromTicks - this.overlapTicks < this.oldestServable(feed))) {
      // Older than what memory holds: this watch reads the feed itself (throws 410 if too old).
      return new Dedicated(this.o.store.follow(kind, from));
    }
    if (!feed) {
      feed = new KindFeed(this.o.store, kind, now);
      this.feeds.set(kind, feed);
      this.schedule(feed);
    }
    const sub = new Subscription(feed, this);
    if (fromTicks !== undefined) {
      for (const b of feed.buffer) if (b.ticks > fromTicks - this.overlapTicks) sub.queue.push(b.event);
    }
    feed.subs.add(sub);
    return sub;
  }

  /** Tells every watch to end (a frontend draining); the followers keep running until close(). */
  drain(): void {
    this.ending.abort();
  }

  /** Stops every follower (a frontend shutting down). */
  close(): void {
    for (const f of this.feeds.values()) if (f.timer !== undefined) this.clock.clearTimeout(f.timer);
    this.feeds.clear();
  }

  released(feed: KindFeed): void {
    if (feed.subs.size === 0) feed.idleSince = this.clock.now();
  }

  private oldestServable(feed: KindFeed): bigint {
    const first = feed.buffer[0]?.ticks;
    // Everything after the origin was seen; the buffer may have dropped its oldest part.
    return feed.buffer.length >= this.bufferMax && first !== undefined ? first : feed.origin;
  }

  private schedule(feed: KindFeed): void {
    feed.timer = this.clock.setTimeout(() => void this.step(feed), this.pollMs);
  }

  private async step(feed: KindFeed): Promise<void> {
    if (this.feeds.get(feed.kind) !== feed) return;
    if (feed.subs.size === 0 && this.clock.now() - feed.idleSince > this.idleMs) {
      this.feeds.delete(feed.kind);
      return;
    }
    try {
      const events = await feed.follower.poll();
      for (const event of events) {
        feed.buffer.push({ ticks: rvTicks(event.object.metadata.resourceVersion!), event });
        for (const s of feed.subs) s.queue.push(event);
      }
      feed.delivered = feed.follower.cursor();
      const keepAfter = BigInt(this.clock.now()) * 10000n - this.bufferTicks;
      let drop = 0;
      while (drop < feed.buffer.length && (feed.buffer[drop].ticks < keepAfter || feed.buffer.length - drop > this.bufferMax)) drop++;
      if (drop > 0) feed.buffer = feed.buffer.slice(drop);
    } catch (err) {
      this.o.logger.warn({ err: String(err), kind: feed.kind }, 'reading the change feed failed; retrying');
    }
    this.schedule(feed);
  }
}
