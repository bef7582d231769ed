/**
 * Events (core/v1) in Cassandra (table of store migration 9), written by the event recorders of
 * controllers and agents (runtime/events/) and read by the API:
 *
 *   events ((namespace, shard), name) body    every write USING TTL (default 1 h, renewed by repeats)
 *
 * A partition per project and shard, the shard a hash of the involved object's name, so all the
 * events of one object are one slice of one partition (names are `<object>.<hash>`), and a busy
 * project is spread over EVENT_SHARDS partitions. Plain writes (one writer per event name; a race
 * costs at most a count); each write is also announced on the change feed as kind Event,
 * committed, so watches follow Events as they follow objects. Nothing is ever deleted: rows expire.
 */
import { types, type Client } from 'cassandra-driver';
import { BadRequestError } from '../errors';
import { EVENT_FIELDS, objectNameOf, type EventObject } from '../kube/events';
import { matchesFields, matchesLabels, pinnedField, type FieldRequirement, type LabelSelector } from '../kube/selectors';
import { systemClock, type Clock } from '../runtime/clock';
import type { Feed } from './feed';
import { RvClock, isTimeUuid, minTimeUuidAtTicks, rvTicks } from './rv';

/** Partitions per project (a constant of the table's layout: changing it would hide stored rows). */
export const EVENT_SHARDS = 8;
export const DEFAULT_EVENT_TTL_SEC = 3600;
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 500;

/** FNV-1a of the involved object's name: every writer and reader agrees on the shard. */
export function eventShard(objectName: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < objectName.length; i++) {
    h ^= objectName.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % EVENT_SHARDS;
}

export interface EventRepositoryOptions {
  client: Client;
  keyspace: string;
  /** the change feed (ObjectStore.feed): writes are announced there so watches see them; none: not announced */
  feed?: Feed;
  /** how long an event lives after its last write, seconds; default 3600 */
  ttlSec?: number;
  clock?: Clock;
}

export interface EventListOptions {
  limit?: number;
  continue?: string;
  fieldSelector?: FieldRequirement[];
  labelSelector?: LabelSelector;
}

export interface EventList {
  items: EventObject[];
  /** a cursor taken before the first page was read (watching from it misses nothing) */
  resourceVersion: string;
  continue?: string;
}

interface ContinueToken { v: 1; ns: string; shard: number; name: string; rv: string }

export class EventRepository {
  private readonly ks: string;
  private readonly clock: Clock;
  private readonly rv: RvClock;
  readonly ttlSec: number;

  constructor(private readonly o: EventRepositoryOptions) {
    this.ks = o.keyspace;
    this.clock = o.clock ?? systemClock;
    this.rv = new RvClock(this.clock);
    this.ttlSec = o.ttlSec ?? DEFAULT_EVENT_TTL_SEC;
  }

  /** One event, if it has not expired. */
  async get(namespace: string, name: string): Promise<EventObject | undefined> {
    const rs = await this.o.client.execute(`SELECT body FROM ${this.ks}.events WHERE namespace = ? AND shard = ? AND name = ?`,
      [namespace, eventShard(objectNameOf(name)), name], { prepare: true });
    const row = rs.first();
    return row ? (JSON.parse(row['body']) as EventObject) : undefined;
  }

  /** Creates or replaces an event (a new resourceVersion, the TTL from now), then announces it on the feed. */
  async write(event: EventObject): Promise<void> {
    const rv = this.rv.next();
    const obj: EventObject = { ...event, metadata: { ...event.metadata, resourceVersion: rv } };
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    const body = JSON.stringify(obj);
    await this.o.client.execute(`INSERT INTO ${this.ks}.events (namespace, shard, name, body) VALUES (?, ?, ?, ?) USING TTL ?`,
      [ns, eventShard(objectNameOf(name)), name, body, this.ttlSec], { prepare: true });
    await this.o.feed?.append({
      ts: rv, ticks: rvTicks(rv), kind: 'Event', namespace: ns, name, uid: obj.metadata.uid ?? rv,
      type: obj.count > 1 ? 'MODIFIED' : 'ADDED', body, committed: true,
    });
  }

  /** A cursor for "now" (a list's resourceVersion). */
  currentResourceVersion(): string {
    return minTimeUuidAtTicks(this.rv.nowTicks());
  }

  /**
   * One page of the events of `namespaces` ('' holds those of cluster-scoped objects), in
   * (namespace, shard, name) order. A fieldSelector pinning involvedObject.name reads one slice
   * of one partition per namespace; the rows scanned per page are bounded.
   */
  async list(namespaces: readonly string[], opts: EventListOptions = {}): Promise<EventList> {
    const limit = Math.min(Math.max(1, opts.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
    const token = opts.continue ? parseContinue(opts.continue) : undefined;
    const resourceVersion = token?.rv ?? this.currentResourceVersion();
    const fields = opts.fieldSelector ?? [];
    const keep = (e: EventObject) => (!opts.labelSelector || matchesLabels(opts.labelSelector, e.metadata.labels)) && matchesFields(fields, e, EVENT_FIELDS);
    const object = pinnedField(fields, 'involvedObject.name');
    const sorted = [...new Set(namespaces)].sort();
    const items: EventObject[] = [];
    let budget = Math.max(limit * 4, 200);
    for (const ns of sorted) {
      if (token && ns < token.ns) continue;
      const shards = object !== undefined ? [eventShard(object)] : Array.from({ length: EVENT_SHARDS }, (_, i) => i);
      for (const shard of shards) {
        if (token && ns === token.ns && shard < token.shard) continue;
        let after = token && ns === token.ns && shard === token.shard ? token.name : undefined;
        for (;;) {
          const want = Math.min(limit - items.length + 1, budget);
          if (want <= 0) return { items, resourceVersion, continue: makeContinue({ v: 1, ns, shard, name: after ?? '', rv: resourceVersion }) };
          const rows = await this.slice(ns, shard, after, object, want);
          budget -= rows.length;
          for (const r of rows) {
            if (items.length === limit) return { items, resourceVersion, continue: makeContinue({ v: 1, ns, shard, name: after ?? '', rv: resourceVersion }) };
            after = r.name;
            if (keep(r.event)) items.push(r.event);
          }
          if (rows.length < want) break;
        }
      }
    }
    return { items, resourceVersion };
  }

  /** Rows of one partition after `after`, only those of `object` when given. */
  private async slice(ns: string, shard: number, after: string | undefined, object: string | undefined, limit: number): Promise<{ name: string; event: EventObject }[]> {
    const where = ['namespace = ?', 'shard = ?'];
    const params: unknown[] = [ns, shard];
    if (object !== undefined) {
      // <object>.<hash>: every name between "<object>." and "<object>/" ('/' follows '.').
      const lo = `${object}.`;
      where.push('name > ?', 'name < ?');
      params.push(after !== undefined && after > lo ? after : lo, `${object}/`);
    } else if (after !== undefined) {
      where.push('name > ?');
      params.push(after);
    }
    const rs = await this.o.client.execute(`SELECT name, body FROM ${this.ks}.events WHERE ${where.join(' AND ')} LIMIT ?`,
      [...params, limit], { prepare: true, consistency: types.consistencies.localQuorum });
    return rs.rows.map((r) => ({ name: r['name'] as string, event: JSON.parse(r['body']) as EventObject }));
  }
}

function makeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function parseContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
    if (t.v === 1 && typeof t.ns === 'string' && Number.isInteger(t.shard) && typeof t.name === 'string' && isTimeUuid(t.rv)) return t;
  } catch {
    // fall through
  }
  throw new BadRequestError('invalid continue token');
}
