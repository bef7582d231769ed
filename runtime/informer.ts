// An informer: a local, read-only cache of one kind kept current from the store. It lists (paged),
// then follows the change feed from the list's resourceVersion, applying each event to a Map
// and calling handlers with keys; it re-lists on a resync period and when the feed answers 410
// Gone. Events older than what the cache holds (the feed's overlap window replays some) are
// dropped. Cached objects are deep-frozen: clone before changing.

import type { Logger } from 'pino';
import { compareRv } from '../kube/rv';
import { matchesFields, matchesLabels, type FieldRequirement, type LabelSelector } from '../kube/selectors';
import type { ListOptions, ListResult, StoredObject, WatchEvent } from '../kube/types';
import { sleep, systemClock, type Clock } from './clock';
import { deepFreeze } from '../schemas/freeze';
import { objectKey } from '../kube/keys';
import { ErrorCode, hasCode } from '../errors';

/** Reads changes from a cursor onwards; throws an error with code 'EXPIRED' when the cursor is too old. */
export interface ChangeFollower<T extends StoredObject = StoredObject> {
  poll(): Promise<WatchEvent<T>[]>;
}

/**
 * What an informer lists and follows: the object store (store/ObjectStore) or anything shaped like
 * it. `T` is the caller's word for the objects of `kind` (e.g. VirtualMachineObject); the store
 * parses rows into it.
 */
export interface ObjectSource {
  list<T extends StoredObject = StoredObject>(kind: string, namespace: string | undefined, opts: ListOptions): Promise<ListResult<T>>;
  follow<T extends StoredObject = StoredObject>(kind: string, from?: string): ChangeFollower<T>;
}

/** A cached object, shared by every reader: clone before changing. */
export type CachedObject<T extends StoredObject = StoredObject> = Readonly<T>;

export interface InformerHandlers<T extends StoredObject = StoredObject> {
  onAdd?(key: string, obj: CachedObject<T>): void;
  /** `oldObj` is the cached object before the change */
  onUpdate?(key: string, oldObj: CachedObject<T>, newObj: CachedObject<T>): void;
  /** `obj` is the last state known */
  onDelete?(key: string, obj: CachedObject<T>): void;
}

export interface InformerOptions<T extends StoredObject = StoredObject> {
  store: ObjectSource;
  /** the kind listed and followed; its objects are read as T */
  kind: string;
  /** only this namespace (project); default all */
  namespace?: string;
  /** applied in memory, like the API's selectors */
  labelSelector?: LabelSelector;
  fieldSelector?: FieldRequirement[];
  /** any other in-memory filter; an object that stops matching is reported deleted */
  filter?: (obj: T) => boolean;
  /** how often to read the change feed; default 250 ms */
  pollIntervalMs?: number;
  /** full re-list period (repairs anything missed); default 300 000 ms (5 min); 0 = never */
  resyncPeriodMs?: number;
  /** list page size; default 500 */
  pageSize?: number;
  /** delay before retrying after a store error; default 1000 ms */
  retryDelayMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** A secondary index: names the values an object is filed under (e.g. its status.host). */
export type IndexFunc<T extends StoredObject = StoredObject> = (obj: CachedObject<T>) => string[];

/** An informer of one kind whose objects are T, e.g. `new Informer<VirtualMachineObject>({ kind: 'VirtualMachine', ... })`. */
export class Informer<T extends StoredObject = StoredObject> {
  readonly kind: string;
  private readonly o: InformerOptions<T>;
  private readonly clock: Clock;
  private readonly cache = new Map<string, CachedObject<T>>();
  /** resourceVersion of recent deletions, so a replayed older event does not resurrect an object */
  private readonly tombstones = new Map<string, string>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly indexFns = new Map<string, IndexFunc<T>>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private lastRv = '';

  constructor(o: InformerOptions<T>) {
    this.o = o;
    this.kind = o.kind;
    this.clock = o.clock ?? systemClock;
  }

  /** Registers handlers; objects already cached are replayed to them as adds. Returns an unsubscribe. */
  addHandlers(h: InformerHandlers<T>): () => void {
    this.handlers.push(h);
    if (h.onAdd) for (const [k, v] of this.cache) this.call(() => h.onAdd!(k, v));
    return () => {
      const i = this.handlers.indexOf(h);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** Adds a secondary index; call before start(). */
  addIndex(name: string, fn: IndexFunc<T>): void {
    this.indexFns.set(name, fn);
    const idx = new Map<string, Set<string>>();
    this.indexes.set(name, idx);
    for (const [k, v] of this.cache) for (const val of fn(v)) this.fileUnder(idx, val, k);
  }

  /** Cached objects filed under `value` in index `name`. */
  byIndex(name: string, value: string): CachedObject<T>[] {
    const keys = this.indexes.get(name)?.get(value);
    if (!keys) return [];
    const out: CachedObject<T>[] = [];
    for (const k of keys) {
      const o = this.cache.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  /** Values of index `name` that have objects. */
  indexValues(name: string): string[] {
    return [...(this.indexes.get(name)?.keys() ?? [])];
  }

  get(key: string): CachedObject<T> | undefined {
    return this.cache.get(key);
  }

  list(): CachedObject<T>[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** The newest resourceVersion applied (a list's or an event's). */
  lastSyncResourceVersion(): string {
    return this.lastRv;
  }

  /** True once the first full list has been applied. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** For /readyz: undefined once the first list is in the cache. */
  notReady(): string | undefined {
    return this.synced ? undefined : 'syncing';
  }

  /** Resolves true once synced, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  /** Lists, follows and re-lists until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const poll = this.o.pollIntervalMs ?? 250;
    const resync = this.o.resyncPeriodMs ?? 300_000;
    const retry = this.o.retryDelayMs ?? 1000;
    const log = this.o.logger?.child({ informer: this.kind });
    while (!signal.aborted) {
      let follower: ChangeFollower<T>;
      try {
        const rv = await this.relist(signal);
        if (signal.aborted) break;
        follower = this.o.store.follow<T>(this.kind, rv);
      } catch (err) {
        log?.warn({ err: String(err) }, 'list failed; retrying');
        await sleep(this.clock, retry, signal);
        continue;
      }
      const relistAt = resync > 0 ? this.clock.now() + resync : Infinity;
      while (!signal.aborted && this.clock.now() < relistAt) {
        try {
          this.apply(await follower.poll());
        } catch (err) {
          if (hasCode(err, ErrorCode.Expired)) {
            log?.info('change feed cursor expired (410); re-listing');
            break;
          }
          log?.warn({ err: String(err) }, 'reading the change feed failed; retrying');
          await sleep(this.clock, retry, signal);
          continue;
        }
        await sleep(this.clock, poll, signal);
      }
    }
  }

  /** Reads every page, replaces the cache and reports the differences. Returns the list's rv. */
  private async relist(signal: AbortSignal): Promise<string> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let listRv: string | undefined;
    do {
      const page = await this.o.store.list<T>(this.kind, this.o.namespace, {
        limit: this.o.pageSize ?? 500, continue: cont, labelSelector: this.o.labelSelector, fieldSelector: this.o.fieldSelector,
      });
      listRv ??= page.resourceVersion;
      for (const obj of page.items) if (this.matches(obj)) fresh.set(objectKey(obj), obj);
      cont = page.continue;
    } while (cont && !signal.aborted);
    for (const [k, old] of this.cache) {
      if (!fresh.has(k)) this.remove(k, old, old.metadata.resourceVersion ?? '');
    }
    for (const [k, obj] of fresh) {
      const cur = this.cache.get(k)?.metadata.resourceVersion;
      if (!cur || !obj.metadata.resourceVersion || compareRv(obj.metadata.resourceVersion, cur) > 0) this.upsert(k, obj);
    }
    this.tombstones.clear();
    this.lastRv = listRv!;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return listRv!;
  }

  private apply(events: WatchEvent<T>[]): void {
    for (const ev of events) {
      const obj = ev.object;
      const key = objectKey(obj);
      const rv = obj.metadata.resourceVersion ?? '';
      const cur = this.cache.get(key);
      if (cur && cur.metadata.resourceVersion && compareRv(rv, cur.metadata.resourceVersion) <= 0) continue;
      const dead = this.tombstones.get(key);
      if (dead && compareRv(rv, dead) <= 0) continue;
      if (compareRv(rv, this.lastRv || rv) > 0) this.lastRv = rv;
      if (ev.type === 'DELETED' || !this.matches(obj)) {
        if (cur) this.remove(key, cur, rv);
        else this.tombstones.set(key, rv);
      } else {
        this.upsert(key, obj);
      }
    }
    // Tombstones only need to outlive the feed's overlap window; keep the map small.
    if (this.tombstones.size > 10_000) this.tombstones.clear();
  }

  private matches(obj: T): boolean {
    const o = this.o;
    if (o.namespace !== undefined && (obj.metadata.namespace ?? '') !== o.namespace) return false;
    if (o.labelSelector && !matchesLabels(o.labelSelector, obj.metadata.labels)) return false;
    if (o.fieldSelector && !matchesFields(o.fieldSelector, obj)) return false;
    return o.filter ? o.filter(obj) : true;
  }

  private upsert(key: string, obj: T): void {
    const old = this.cache.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    deepFreeze(obj);
    const frozen: CachedObject<T> = obj;
    this.cache.set(key, frozen);
    this.tombstones.delete(key);
    this.reindex(key, old, frozen);
    for (const h of this.handlers) {
      if (old) {
        if (h.onUpdate) this.call(() => h.onUpdate!(key, old, frozen));
      } else if (h.onAdd) this.call(() => h.onAdd!(key, frozen));
    }
  }

  private remove(key: string, old: CachedObject<T>, rv: string): void {
    this.cache.delete(key);
    this.tombstones.set(key, rv);
    this.reindex(key, old, undefined);
    for (const h of this.handlers) if (h.onDelete) this.call(() => h.onDelete!(key, old));
  }

  private reindex(key: string, old: CachedObject<T> | undefined, next: CachedObject<T> | undefined): void {
    for (const [name, fn] of this.indexFns) {
      const idx = this.indexes.get(name)!;
      if (old) {
        for (const v of fn(old)) {
          const s = idx.get(v);
          s?.delete(key);
          if (s && s.size === 0) idx.delete(v);
        }
      }
      if (next) for (const v of fn(next)) this.fileUnder(idx, v, key);
    }
  }

  private fileUnder(idx: Map<string, Set<string>>, value: string, key: string): void {
    let s = idx.get(value);
    if (!s) idx.set(value, (s = new Set()));
    s.add(key);
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.logger?.error({ informer: this.kind, err: String(err) }, 'informer handler threw');
    }
  }
}
