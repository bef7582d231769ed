// The object store every part uses (api, controllers, agents): Kubernetes semantics on Cassandra.
// One partition per object; every write of an object row is a lightweight transaction
// (compare-and-set on resourceVersion); listing pages through a name index; every change is
// announced on the change feed (feed.ts) before it is made.

import { types, type Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import {
  AlreadyExistsError, BadRequestError, ConflictError, NotFoundError, RequestEntityTooLargeError, ServiceUnavailableError, ErrorCode, hasCode,
} from '../errors';
import { DEFAULT_FEED_SETTINGS, Feed, FeedFollower, type FeedEntry, type FeedSettings, type Resolution } from './feed';
import { PartitionBatcher } from './batcher';
import { isCasTimeout } from './cas';
import { RvClock, isTimeUuid, minTimeUuidAtTicks, rvMicros, rvTicks } from './rv';
import { matchesFields, matchesLabels, pinnedField } from '../kube/selectors';
import type { ListOptions, ListResult, ObjectKey, StoredObject, WatchEventType } from '../kube/types';
import { isoSeconds } from '../kube/time';
import { jsonEqual } from '../kube/equal';
import { GROUP, kindByKind } from '../schemas/kinds';
import { MAX_OBJECT_BYTES, largestField } from '../schemas/limits';
import { sleep, systemClock, type Clock } from '../runtime/clock';

export interface ObjectStoreOptions {
  client: Client;
  keyspace: string;
  /** feed layout used when the keyspace has none recorded yet; the recorded one wins */
  feed?: Partial<FeedSettings>;
  /** wall clock and timers; injectable for tests */
  clock?: Clock;
  /** random source of the conflict-retry backoff; default Math.random */
  random?: () => number;
  logger?: Logger;
  /** follower tuning (see FeedFollower) */
  followerOverlapMs?: number;
  followerGraceMs?: number;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface WriteOptions<T extends StoredObject = StoredObject> {
  dryRun?: boolean;
  /**
   * The object exactly as the store returned it at the input's resourceVersion (a watch cache
   * copy), for internal writers: saves the read before the compare-and-set. A stale copy costs
   * nothing but the usual conflict, since the compare-and-set is on its resourceVersion.
   */
  current?: T;
}

/** Options of update() only. */
export interface UpdateOptions<T extends StoredObject = StoredObject> extends WriteOptions<T> {
  /**
   * Write the input's status too, in the same compare-and-set (internal writers that own both
   * a finalizer and status fields, e.g. the agent's first status). The API never sets this.
   */
  withStatus?: boolean;
}

/** Fields with a secondary index, so a fieldSelector pinning them reads only the matching objects. */
export const INDEXED_FIELDS: Record<string, string[]> = { VirtualMachine: ['status.host'] };

function fieldValue(obj: StoredObject | null | undefined, field: string): string | undefined {
  let v: unknown = obj;
  for (const part of field.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export const MAX_LIST_LIMIT = 1000;
const DEFAULT_LIST_LIMIT = 500;
const ROW = { serial: types.consistencies.localSerial, quorum: types.consistencies.localQuorum };

interface ContinueToken { v: 1; ns: string; name: string; rv: string }

export function keyOf(obj: StoredObject): ObjectKey {
  return { kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}

/** Kubernetes-style resource name for messages, e.g. virtualmachines.stratuslab.eu */
function resourceOf(kind: string): string {
  const k = kindByKind(kind);
  return k ? `${k.plural}.${GROUP}` : kind;
}

function describeKey(k: ObjectKey): string {
  return `${resourceOf(k.kind)} "${k.name}"`;
}


export class ObjectStore {
  private readonly client: Client;
  private readonly ks: string;
  private readonly clock: Clock;
  private readonly rvClock: RvClock;
  private feedImpl?: Feed;
  private readonly batcher: PartitionBatcher;
  /** (kind, namespace) pairs this process has already recorded in object_namespaces */
  private readonly knownNamespaces = new Set<string>();

  constructor(private readonly o: ObjectStoreOptions) {
    this.client = o.client;
    this.ks = o.keyspace;
    this.clock = o.clock ?? systemClock;
    this.rvClock = new RvClock(this.clock);
    this.batcher = new PartitionBatcher(this.client);
  }

  /** Reads (or records, the first time) the cluster-wide feed layout. Call once before use. */
  async init(): Promise<void> {
    const wanted = { ...DEFAULT_FEED_SETTINGS, ...this.o.feed };
    await this.client.execute(`INSERT INTO ${this.ks}.settings (name, value) VALUES ('feed', ?) IF NOT EXISTS`, [JSON.stringify(wanted)]);
    const rs = await this.client.execute(`SELECT value FROM ${this.ks}.settings WHERE name = 'feed'`, [], { consistency: ROW.serial });
    const settings = { ...wanted, ...JSON.parse(rs.first()['value']) } as FeedSettings;
    this.feedImpl = new Feed(this.client, this.ks, settings);
  }

  get feed(): Feed {
    if (!this.feedImpl) throw new Error('ObjectStore.init() was not called');
    return this.feedImpl;
  }

  /** A resourceVersion for "now": a list taken after it reflects every change before it. */
  currentResourceVersion(): string {
    return minTimeUuidAtTicks(this.rvClock.nowTicks());
  }

  /**
   * Reads one object. `T` is the caller's type for objects of `key.kind` (e.g.
   * VirtualMachineObject): the stored body is parsed into it, the one place rows become objects.
   */
  async get<T extends StoredObject = StoredObject>(key: ObjectKey, opts: { serial?: boolean } = {}): Promise<T | undefined> {
    const rs = await this.client.execute(
      `SELECT body FROM ${this.ks}.objects WHERE kind = ? AND namespace = ? AND name = ?`,
      [key.kind, key.namespace, key.name],
      { consistency: opts.serial ? ROW.serial : ROW.quorum },
    );
    const row = rs.first();
    return row ? (JSON.parse(row['body']) as T) : undefined;
  }

  /**
   * Reads several objects of one kind and namespace with one request per chunk of names (an IN on
   * the last partition-key column: the coordinator fans out, the client sends one message).
   * Returns them in the order of `names`, undefined where missing.
   */
  async getMany<T extends StoredObject = StoredObject>(kind: string, namespace: string, names: string[]): Promise<(T | undefined)[]> {
    const found = new Map<string, T>();
    const chunks: string[][] = [];
    for (let i = 0; i < names.length; i += 100) chunks.push(names.slice(i, i + 100));
    await Promise.all(chunks.map(async (chunk) => {
      const rs = await this.client.execute(
        `SELECT name, body FROM ${this.ks}.objects WHERE kind = ? AND namespace = ? AND name IN ?`,
        [kind, namespace, chunk], { consistency: ROW.quorum },
      );
      for (const r of rs.rows) found.set(r['name'] as string, JSON.parse(r['body']) as T);
    }));
    return names.map((n) => found.get(n));
  }

  /** The object an update builds on: the caller's `current` when it is at the input's version, else read. */
  private async currentFor<T extends StoredObject>(key: ObjectKey, input: T, opts: WriteOptions<T>): Promise<T> {
    const c = opts.current;
    const rv = input.metadata.resourceVersion;
    if (c && rv && c.metadata.resourceVersion === rv && c.kind === key.kind && c.metadata.name === key.name && (c.metadata.namespace ?? '') === key.namespace) return c;
    return this.mustGet<T>(key, { serial: !rv });
  }

  async mustGet<T extends StoredObject = StoredObject>(key: ObjectKey, opts: { serial?: boolean } = {}): Promise<T> {
    const obj = await this.get<T>(key, opts);
    if (!obj) throw new NotFoundError(`${describeKey(key)} not found`, { name: key.name, kind: kindByKind(key.kind)?.plural ?? key.kind });
    return obj;
  }

  /** Creates an object: uid, resourceVersion, generation 1 and creationTimestamp are set here. */
  async create<T extends StoredObject = StoredObject>(input: NoInfer<T>, opts: WriteOptions<T> = {}): Promise<T> {
    const key = keyOf(input);
    const rv = this.rvClock.next();
    const obj = structuredClone(input);
    const meta = obj.metadata;
    meta.namespace = key.namespace || undefined;
    if (!meta.namespace) delete meta.namespace;
    meta.uid = rv;
    meta.resourceVersion = rv;
    meta.generation = 1;
    meta.creationTimestamp = isoSeconds(this.clock.now());
    delete meta.deletionTimestamp;
    const body = JSON.stringify(obj);
    this.checkSize(key, obj, body);
    if (opts.dryRun) return obj;
    const entry = this.entry(key, rv, rv, 'ADDED', body);
    const micros = rvMicros(rv);
    const nsKey = `${key.kind}/${key.namespace}`;
    await Promise.all([
      this.feed.append(entry),
      this.batcher.write(`${key.kind}/${key.namespace}`, `INSERT INTO ${this.ks}.object_names (kind, namespace, name) VALUES (?, ?, ?) USING TIMESTAMP ?`,
        [key.kind, key.namespace, key.name, types.Long.fromString(micros.toString())]),
      this.knownNamespaces.has(nsKey) ? undefined
        : this.client.execute(`INSERT INTO ${this.ks}.object_namespaces (kind, namespace) VALUES (?, ?)`, [key.kind, key.namespace])
          .then(() => { this.knownNamespaces.add(nsKey); }),
    ]);
    const applied = await this.cas(entry, `INSERT INTO ${this.ks}.objects (kind, namespace, name, uid, rv, body) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      [key.kind, key.namespace, key.name, rv, rv, body]);
    if (!applied) throw new AlreadyExistsError(`${describeKey(key)} already exists`, { name: key.name, kind: kindByKind(key.kind)?.plural ?? key.kind });
    await this.reindex(key, undefined, obj, rv);
    return obj;
  }

  /**
   * Replaces spec, labels, annotations and finalizers, compare-and-set on
   * `metadata.resourceVersion` (unconditional when it is absent). Status and the server-managed
   * metadata are kept. `generation` increases only when spec changed; an update that changes
   * nothing writes nothing. Removing the last finalizer of an object being deleted deletes it.
   */
  async update<T extends StoredObject>(input: T, opts: UpdateOptions<T> = {}): Promise<T> {
    const key = keyOf(input);
    const cur = await this.currentFor(key, input, opts);
    const expected = input.metadata.resourceVersion ?? cur.metadata.resourceVersion!;
    if (expected !== cur.metadata.resourceVersion) throw this.conflict(key, input.kind);
    if (input.metadata.uid && input.metadata.uid !== cur.metadata.uid) {
      throw new ConflictError(`Precondition failed: UID in object meta: ${input.metadata.uid}, does not match existing UID: ${cur.metadata.uid}`);
    }
    const next = structuredClone(input);
    next.metadata = {
      ...next.metadata,
      namespace: cur.metadata.namespace,
      uid: cur.metadata.uid,
      generation: cur.metadata.generation,
      creationTimestamp: cur.metadata.creationTimestamp,
      deletionTimestamp: cur.metadata.deletionTimestamp,
    };
    if (next.metadata.namespace === undefined) delete next.metadata.namespace;
    if (next.metadata.deletionTimestamp === undefined) delete next.metadata.deletionTimestamp;
    if (opts.withStatus) {
      if (next.status === undefined) delete next.status;
    } else if (cur.status !== undefined) next.status = cur.status;
    else delete next.status;
    if (!jsonEqual(cur.spec, next.spec)) next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
    return this.write(key, cur, next, opts);
  }

  /** Replaces status only; spec, metadata and generation are never touched. */
  async updateStatus<T extends StoredObject>(input: T, opts: WriteOptions<T> = {}): Promise<T> {
    const key = keyOf(input);
    const cur = await this.currentFor(key, input, opts);
    const expected = input.metadata.resourceVersion ?? cur.metadata.resourceVersion!;
    if (expected !== cur.metadata.resourceVersion) throw this.conflict(key, input.kind);
    const next = structuredClone(cur);
    if (input.status === undefined) delete next.status;
    else next.status = structuredClone(input.status);
    return this.write(key, cur, next, opts);
  }

  /**
   * Deletes an object: with finalizers, sets deletionTimestamp (the owners clean up and remove
   * them); without, removes it. Returns the object as last seen and whether it is gone.
   */
  async delete<T extends StoredObject = StoredObject>(key: ObjectKey, opts: DeleteOptions = {}): Promise<{ object: T; deleted: boolean }> {
    const cur = await this.mustGet<T>(key, { serial: true });
    const pre = opts.preconditions;
    if (pre?.uid !== undefined && pre.uid !== cur.metadata.uid) {
      throw new ConflictError(`Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== cur.metadata.resourceVersion) {
      throw new ConflictError(`Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
    }
    if ((cur.metadata.finalizers ?? []).length > 0) {
      if (cur.metadata.deletionTimestamp) return { object: cur, deleted: false };
      const next = structuredClone(cur);
      next.metadata.deletionTimestamp = isoSeconds(this.clock.now());
      return { object: await this.write(key, cur, next, opts), deleted: false };
    }
    return { object: await this.write(key, cur, null, opts), deleted: true };
  }

  /**
   * Read-modify-write with retries on conflict: `mutate` gets a private copy of the current object
   * (read at SERIAL) and returns the object to write, or undefined to write nothing. With `cached`
   * (a watch cache copy), the first attempt starts from it instead of reading; a stale copy costs
   * one conflict, then the object is read. `withStatus` as in update().
   */
  async guaranteedUpdate<T extends StoredObject = StoredObject>(
    key: ObjectKey,
    mutate: (cur: T) => T | undefined | Promise<T | undefined>,
    opts: { status?: boolean; withStatus?: boolean; maxRetries?: number; dryRun?: boolean; cached?: T } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const cur = attempt === 0 && opts.cached ? opts.cached : await this.mustGet<T>(key, { serial: true });
      const next = await mutate(structuredClone(cur));
      if (!next) return cur;
      next.metadata.resourceVersion = cur.metadata.resourceVersion;
      const write: UpdateOptions<T> = { dryRun: opts.dryRun, withStatus: opts.withStatus, current: cur };
      try {
        return opts.status ? await this.updateStatus(next, write) : await this.update(next, write);
      } catch (err) {
        if (!hasCode(err, ErrorCode.Conflict) || attempt >= (opts.maxRetries ?? 20)) throw err;
        await sleep(this.clock, (this.o.random ?? Math.random)() * Math.min(100, 5 * 2 ** attempt));
      }
    }
  }

  /** One page of a kind, in (namespace, name) order; cost per page is bounded by `limit`. */
  async list<T extends StoredObject = StoredObject>(kind: string, namespace: string | undefined, opts: ListOptions = {}): Promise<ListResult<T>> {
    const limit = Math.min(Math.max(1, opts.limit ?? DEFAULT_LIST_LIMIT), MAX_LIST_LIMIT);
    const token = opts.continue ? this.parseContinue(opts.continue) : undefined;
    const resourceVersion = token?.rv ?? this.currentResourceVersion();
    const labels = opts.labelSelector;
    const fields = opts.fieldSelector ?? [];
    const keep = (o: StoredObject) => (!labels || matchesLabels(labels, o.metadata.labels)) && matchesFields(fields, o);

    const pinnedName = pinnedField(fields, 'metadata.name');
    const pinnedNs = namespace ?? pinnedField(fields, 'metadata.namespace');
    if (pinnedName !== undefined && pinnedNs !== undefined && !token) {
      const obj = await this.get<T>({ kind, namespace: pinnedNs, name: pinnedName });
      return { items: obj && keep(obj) ? [obj] : [], resourceVersion };
    }

    for (const field of INDEXED_FIELDS[kind] ?? []) {
      const value = pinnedField(fields, field);
      if (value !== undefined) return this.listIndexed<T>(kind, namespace, field, value, limit, token, resourceVersion, keep);
    }

    const items: T[] = [];
    let ns = namespace ?? token?.ns ?? '';
    let after = token?.name;
    if (namespace === undefined && token === undefined) {
      const first = await this.nextNamespace(kind, undefined);
      if (first === undefined) return { items, resourceVersion };
      ns = first;
    }
    // Scan at most a few pages' worth of names per call, so a selective selector stays bounded.
    let budget = Math.max(limit * 4, 200);
    for (;;) {
      const want = Math.min(limit - items.length + 1, budget);
      const rs = await this.client.execute(
        after === undefined
          ? `SELECT name FROM ${this.ks}.object_names WHERE kind = ? AND namespace = ? LIMIT ?`
          : `SELECT name FROM ${this.ks}.object_names WHERE kind = ? AND namespace = ? AND name > ? LIMIT ?`,
        after === undefined ? [kind, ns, want] : [kind, ns, after, want],
        { consistency: ROW.quorum },
      );
      const names = rs.rows.map((r) => r['name'] as string);
      budget -= names.length;
      const objs = await this.getMany<T>(kind, ns, names);
      for (let i = 0; i < names.length; i++) {
        const o = objs[i];
        if (items.length === limit) {
          return { items, resourceVersion, continue: this.makeContinue({ v: 1, ns, name: after ?? '', rv: resourceVersion }) };
        }
        after = names[i];
        if (o && keep(o)) items.push(o);
      }
      if (names.length < want) {
        // This namespace is exhausted.
        if (namespace !== undefined) return { items, resourceVersion };
        const nextNs = await this.nextNamespace(kind, ns);
        if (nextNs === undefined) return { items, resourceVersion };
        ns = nextNs;
        after = undefined;
      }
      if (budget <= 0) {
        return { items, resourceVersion, continue: this.makeContinue({ v: 1, ns, name: after ?? '', rv: resourceVersion }) };
      }
    }
  }

  /** Follows changes of one kind from a resourceVersion (or from now). */
  follow<T extends StoredObject = StoredObject>(kind: string, from?: string): FeedFollower<T> {
    return new FeedFollower<T>({
      feed: this.feed,
      kind,
      from,
      clock: this.clock,
      overlapMs: this.o.followerOverlapMs,
      graceMs: this.o.followerGraceMs,
      resolve: (e) => this.resolve(e),
    });
  }

  // ---- internals ----

  private async nextNamespace(kind: string, after: string | undefined): Promise<string | undefined> {
    const rs = await this.client.execute(
      after === undefined
        ? `SELECT namespace FROM ${this.ks}.object_namespaces WHERE kind = ? LIMIT 1`
        : `SELECT namespace FROM ${this.ks}.object_namespaces WHERE kind = ? AND namespace > ? LIMIT 1`,
      after === undefined ? [kind] : [kind, after],
    );
    return rs.first()?.['namespace'] as string | undefined;
  }

  private makeContinue(t: ContinueToken): string {
    return Buffer.from(JSON.stringify(t)).toString('base64url');
  }

  private parseContinue(s: string): ContinueToken {
    try {
      const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
      if (t.v === 1 && typeof t.ns === 'string' && typeof t.name === 'string' && isTimeUuid(t.rv)) return t;
    } catch {
      // fall through
    }
    throw new BadRequestError('invalid continue token');
  }

  /**
   * Refuses, before Cassandra or the feed sees it, an object whose JSON is larger than
   * MAX_OBJECT_BYTES (1.5 MiB, etcd's limit in Kubernetes), naming the largest field; a write that
   * does not make an object (stored before the limit) larger is let through, so it can shrink.
   */
  private checkSize(key: ObjectKey, obj: StoredObject, body: string, cur?: StoredObject): void {
    const bytes = Buffer.byteLength(body);
    if (bytes <= MAX_OBJECT_BYTES) return;
    if (cur && bytes <= Buffer.byteLength(JSON.stringify(cur))) return;
    const big = largestField(obj);
    const message = `Too long: the object may take at most ${MAX_OBJECT_BYTES} bytes when stored; this field takes ${big.bytes}`;
    throw new RequestEntityTooLargeError(
      `Request entity too large: ${describeKey(key)} would take ${bytes} bytes when stored, more than the limit of ${MAX_OBJECT_BYTES} bytes (the largest field is ${big.field}, ${big.bytes} bytes)`,
      { name: key.name, kind: kindByKind(key.kind)?.plural ?? key.kind, causes: [{ field: big.field, reason: 'FieldValueTooLong', message }] },
    );
  }

  private conflict(key: ObjectKey, kind: string): ConflictError {
    return new ConflictError(
      `Operation cannot be fulfilled on ${describeKey(key)}: the object has been modified; please apply your changes to the latest version and try again`,
      { name: key.name, kind: kindByKind(kind)?.plural ?? kind },
    );
  }

  private entry(key: ObjectKey, ts: string, uid: string, type: WatchEventType, body: string): FeedEntry {
    return { ts, ticks: rvTicks(ts), kind: key.kind, namespace: key.namespace, name: key.name, uid, type, body, committed: false };
  }

  /** Writes `next` (or deletes, when null) over `cur` by compare-and-set on its resourceVersion. */
  private async write<T extends StoredObject>(key: ObjectKey, cur: T, next: T | null, opts: WriteOptions<T>): Promise<T> {
    const curRv = cur.metadata.resourceVersion!;
    if (next && jsonEqual(cur, { ...next, metadata: { ...next.metadata, resourceVersion: curRv } })) return cur;
    const finalizing = next && next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0;
    const rv = this.rvClock.next(curRv);
    const out = structuredClone(next ?? cur);
    out.metadata.resourceVersion = rv;
    const body = JSON.stringify(out);
    if (next && !finalizing) this.checkSize(key, out, body, cur);
    if (opts.dryRun) return out;
    const uid = cur.metadata.uid!;
    if (next && !finalizing) {
      const entry = this.entry(key, rv, uid, 'MODIFIED', body);
      if (!jsonEqual(cur.metadata.labels ?? {}, next.metadata.labels ?? {})) entry.prevLabels = JSON.stringify(cur.metadata.labels ?? {});
      await this.feed.append(entry);
      const ok = await this.cas(entry, `UPDATE ${this.ks}.objects SET rv = ?, body = ? WHERE kind = ? AND namespace = ? AND name = ? IF rv = ?`,
        [rv, body, key.kind, key.namespace, key.name, curRv]);
      if (!ok) throw this.conflict(key, cur.kind);
      await this.reindex(key, cur, out, rv);
      return out;
    }
    const entry = this.entry(key, rv, uid, 'DELETED', body);
    await this.feed.append(entry);
    const ok = await this.cas(entry, `DELETE FROM ${this.ks}.objects WHERE kind = ? AND namespace = ? AND name = ? IF rv = ?`,
      [key.kind, key.namespace, key.name, curRv]);
    if (!ok) throw this.conflict(key, cur.kind);
    await this.reindex(key, cur, null, rv);
    await this.client.execute(`DELETE FROM ${this.ks}.object_names USING TIMESTAMP ? WHERE kind = ? AND namespace = ? AND name = ?`,
      [types.Long.fromString(rvMicros(uid).toString()), key.kind, key.namespace, key.name]);
    return out;
  }

  /**
   * Runs one conditional statement for a feed entry already appended. Applied: the entry is
   * marked committed. Not applied: the entry is removed. Outcome unknown (a CAS timeout): the
   * object is read at SERIAL, which finishes any in-flight Paxos round, to learn which.
   */
  private async cas(entry: FeedEntry, cql: string, params: unknown[]): Promise<boolean> {
    let applied: boolean;
    try {
      const rs = await this.client.execute(cql, params);
      applied = rs.wasApplied();
    } catch (err) {
      if (!isCasTimeout(err)) throw err;
      this.o.logger?.warn({ kind: entry.kind, name: entry.name, err: String(err) }, 'compare-and-set timed out; reading back');
      let cur: StoredObject | undefined;
      try {
        cur = await this.get(entry, { serial: true });
      } catch {
        throw new ServiceUnavailableError('the database did not confirm the write in time; retry');
      }
      applied = entry.type === 'DELETED' ? cur?.metadata.uid !== entry.uid : cur?.metadata.resourceVersion === entry.ts;
    }
    // Marking the entry is not on the caller's critical path: until it lands, followers treat the
    // entry as in flight and confirm it against the object themselves.
    const settle = applied ? this.feed.markCommitted(entry) : this.feed.remove(entry);
    settle.catch((err) => this.o.logger?.warn({ err: String(err), ts: entry.ts }, 'could not settle a feed entry'));
    return applied;
  }

  /**
   * Keeps field_index in step with a successful write. Rows are written with the write's
   * resourceVersion as their timestamp, so late or repeated index writes settle on the newest.
   */
  private async reindex(key: ObjectKey, before: StoredObject | undefined, after: StoredObject | null, rv: string): Promise<void> {
    const fields = INDEXED_FIELDS[key.kind];
    if (!fields) return;
    const ts = types.Long.fromString(rvMicros(rv).toString());
    const writes: Promise<unknown>[] = [];
    for (const field of fields) {
      const old = fieldValue(before, field);
      const now = fieldValue(after, field);
      if (old === now) continue;
      if (old !== undefined) {
        writes.push(this.batcher.write(`${key.kind}/${field}/${old}`, `DELETE FROM ${this.ks}.field_index USING TIMESTAMP ? WHERE kind = ? AND field = ? AND value = ? AND namespace = ? AND name = ?`,
          [ts, key.kind, field, old, key.namespace, key.name]));
      }
      if (now !== undefined) {
        writes.push(this.batcher.write(`${key.kind}/${field}/${now}`, `INSERT INTO ${this.ks}.field_index (kind, field, value, namespace, name) VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?`,
          [key.kind, field, now, key.namespace, key.name, ts]));
      }
    }
    await Promise.all(writes);
  }

  /** A page of objects whose indexed `field` equals `value`, read through field_index. */
  private async listIndexed<T extends StoredObject>(kind: string, namespace: string | undefined, field: string, value: string, limit: number,
    token: ContinueToken | undefined, resourceVersion: string, keep: (o: StoredObject) => boolean): Promise<ListResult<T>> {
    const where = ['kind = ?', 'field = ?', 'value = ?'];
    const params: unknown[] = [kind, field, value];
    if (namespace !== undefined) { where.push('namespace = ?'); params.push(namespace); }
    if (token) {
      if (namespace !== undefined) { where.push('name > ?'); params.push(token.name); }
      else { where.push('(namespace, name) > (?, ?)'); params.push(token.ns, token.name); }
    }
    const rs = await this.client.execute(`SELECT namespace, name FROM ${this.ks}.field_index WHERE ${where.join(' AND ')} LIMIT ?`, [...params, limit + 1]);
    const rows = rs.rows.map((r) => ({ ns: r['namespace'] as string, name: r['name'] as string }));
    const page = rows.slice(0, limit);
    const byNs = new Map<string, string[]>();
    for (const r of page) byNs.set(r.ns, [...(byNs.get(r.ns) ?? []), r.name]);
    const fetched = new Map<string, T | undefined>();
    await Promise.all([...byNs].map(async ([ns, names]) => {
      const objs = await this.getMany<T>(kind, ns, names);
      names.forEach((n, i) => fetched.set(`${ns}/${n}`, objs[i]));
    }));
    const objs = page.map((r) => fetched.get(`${r.ns}/${r.name}`));
    const items = objs.filter((o): o is T => !!o && keep(o));
    const last = page[page.length - 1];
    return rows.length > limit
      ? { items, resourceVersion, continue: this.makeContinue({ v: 1, ns: last.ns, name: last.name, rv: resourceVersion }) }
      : { items, resourceVersion };
  }

  /** Confirms an uncommitted feed entry against the object, read at SERIAL. */
  private async resolve(e: FeedEntry): Promise<Resolution> {
    const cur = await this.get(e, { serial: true });
    const real = e.type === 'DELETED' ? !cur || cur.metadata.uid !== e.uid : cur?.metadata.resourceVersion === e.ts;
    if (real) await this.feed.markCommitted(e).catch(() => undefined);
    return real ? 'real' : 'not-yet';
  }
}
