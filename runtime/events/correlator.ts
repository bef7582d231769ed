// What a process does with an event before it is written, after client-go's EventCorrelator: a
// spam filter (a token bucket per reporter and object), an aggregator (many different messages of
// one object, reason and reporter become one combined event) and the log that counts repeats of
// one event (count, first and last time). Bounded LRU caches; no I/O.

import { randomUUID } from 'node:crypto';
import {
  aggregationKey, eventName, eventNamespace, safeMessage, messageKind, type EventReporter, type EventType, type ObjectReference,
} from '../../kube/events';
import { TokenBucket } from '../rate-limiter';
import type { Clock } from '../clock';

export interface CorrelatorOptions {
  clock: Clock;
  /** events per reporter and object before the rate limit applies; default 25 (client-go's burst) */
  burst?: number;
  /** one more event allowed every this many ms; default 300 000 (client-go: 1 per 5 minutes) */
  refillMs?: number;
  /** different message kinds per object, reason and reporter within similarWindowMs before they are combined; default 10 */
  maxSimilar?: number;
  /** default 600 000 ms (client-go's 10 minutes) */
  similarWindowMs?: number;
  /** entries of each cache; default 4096 (client-go's) */
  cacheSize?: number;
}

/** One aggregated event as this process knows it. */
export interface LoggedEvent {
  namespace: string;
  name: string;
  ref: ObjectReference;
  reporter: EventReporter;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  /** ms */
  first: number;
  /** ms */
  last: number;
  uid: string;
  /** ms */
  created: number;
  /** the stored copy was read (or found absent): count and times continue it */
  loaded: boolean;
}

export type Correlation = { event: LoggedEvent } | { dropped: 'rate-limited' };

export const COMBINED_PREFIX = '(combined from similar events): ';

/** A Map used as a least-recently-used cache of at most `max` entries. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}

  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }

  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }
}

interface Similar {
  kinds: Set<string>;
  since: number;
}

export class EventCorrelator {
  private readonly clock: Clock;
  private readonly buckets: Lru<string, TokenBucket>;
  private readonly similar: Lru<string, Similar>;
  private readonly log: Lru<string, LoggedEvent>;
  private readonly burst: number;
  private readonly qps: number;
  private readonly maxSimilar: number;
  private readonly window: number;

  constructor(o: CorrelatorOptions) {
    this.clock = o.clock;
    const size = o.cacheSize ?? 4096;
    this.buckets = new Lru(size);
    this.similar = new Lru(size);
    this.log = new Lru(size);
    this.burst = o.burst ?? 25;
    this.qps = 1000 / Math.max(1, o.refillMs ?? 300_000);
    this.maxSimilar = o.maxSimilar ?? 10;
    this.window = o.similarWindowMs ?? 600_000;
  }

  /** Filters, aggregates and counts one occurrence; the event to write, or why it is dropped. */
  correlate(reporter: EventReporter, ref: ObjectReference, type: EventType, reason: string, rawMessage: string): Correlation {
    const now = this.clock.now();
    const spamKey = JSON.stringify([reporter.component, reporter.host ?? '', ref.apiVersion ?? '', ref.kind, ref.namespace ?? '', ref.name, ref.uid ?? '']);
    let bucket = this.buckets.get(spamKey);
    if (!bucket) {
      bucket = new TokenBucket({ qps: this.qps, burst: this.burst, clock: this.clock });
      this.buckets.set(spamKey, bucket);
    }
    if (!bucket.tryTake()) return { dropped: 'rate-limited' };

    let message = safeMessage(rawMessage);
    // Too many different messages for one object, reason and reporter: one combined event.
    const simKey = JSON.stringify([spamKey, type, reason]);
    let sim = this.similar.get(simKey);
    if (!sim || now - sim.since > this.window) {
      sim = { kinds: new Set(), since: now };
      this.similar.set(simKey, sim);
    }
    const kind = messageKind(message);
    if (!sim.kinds.has(kind) && sim.kinds.size >= this.maxSimilar) message = safeMessage(`${COMBINED_PREFIX}${message}`);
    else sim.kinds.add(kind);

    const key = message.startsWith(COMBINED_PREFIX)
      ? aggregationKey(ref, reporter, type, reason, COMBINED_PREFIX)
      : aggregationKey(ref, reporter, type, reason, message);
    const name = eventName(ref.name, key);
    const known = this.log.get(name);
    if (known) {
      known.count++;
      known.last = Math.max(known.last, now);
      known.message = message;
      return { event: known };
    }
    const event: LoggedEvent = {
      namespace: eventNamespace(ref), name, ref, reporter, type, reason, message,
      count: 1, first: now, last: now, uid: randomUUID(), created: now, loaded: false,
    };
    this.log.set(name, event);
    return { event };
  }
}
