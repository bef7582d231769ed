// Following changes: watch streams resumed from the last seen resourceVersion when they close,
// re-listing on 410 Expired, and waiting until one object satisfies a predicate (wait, delete --wait).

import type { ApiClient, WatchEvent } from './client';
import { ApiError, isApiError, isNotFound } from './errors/api-error';
import type { Status } from '../kube/wire';
import { ErrorCode, hasCode } from '../errors';
import { isCliError } from './errors/cli-error';
import { listObjects, type CollectionTarget, type Obj } from './list';
import { isMetaTable } from './output';
import { nameOf, namespaceOf, resourcePath, resourceVersionOf, type KindInfo } from './resources';

/** Sleeps, returning early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function isExpired(err: unknown): boolean {
  return isApiError(err) && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

/** The resourceVersion an event moves the cursor to (Table events carry it on the Table or its rows). */
export function eventResourceVersion(obj: unknown): string | undefined {
  const rv = resourceVersionOf(obj);
  if (rv) return rv;
  if (isMetaTable(obj)) {
    for (let i = obj.rows.length - 1; i >= 0; i--) {
      const r = resourceVersionOf(obj.rows[i].object);
      if (r) return r;
    }
  }
  return undefined;
}

export interface WatchOptions {
  signal?: AbortSignal;
  accept?: string;
  /** first delay before re-watching a stream that closed without events (doubles up to 5 s) */
  retryDelayMs?: number;
}

/**
 * Yields the events of a collection from `resourceVersion` on, until the signal aborts. A stream
 * the server closes (or that breaks) is re-opened from the last seen resourceVersion; BOOKMARK
 * events move the cursor and are yielded too. An ERROR event or answer with 410 Expired throws
 * an ApiError with status 410 (the caller re-lists); other API errors are thrown as they are.
 */
export async function* watchFrom(
  client: ApiClient,
  t: CollectionTarget,
  resourceVersion: string | undefined,
  opts: WatchOptions = {},
): AsyncGenerator<WatchEvent> {
  const path = resourcePath(t.kind, { namespace: t.kind.namespaced ? t.namespace : undefined });
  const base = opts.retryDelayMs ?? 200;
  let delay = base;
  let rv = resourceVersion;
  while (!opts.signal?.aborted) {
    let received = false;
    try {
      const stream = client.watch(path, {
        query: {
          labelSelector: t.labelSelector,
          fieldSelector: t.fieldSelector,
          resourceVersion: rv,
          allowWatchBookmarks: true,
        },
        accept: opts.accept,
        signal: opts.signal,
      });
      for await (const ev of stream) {
        received = true;
        if (ev.type === 'ERROR') {
          const st = (ev.object ?? {}) as Partial<Status>;
          throw ApiError.fromResponse(typeof st.code === 'number' ? st.code : 500, st);
        }
        const next = eventResourceVersion(ev.object);
        if (next) rv = next;
        yield ev;
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (isApiError(err)) throw err;
      // a broken stream is resumed; "no server reachable" is retried until the caller gives up;
      // other CLI errors (a malformed event) are not worth retrying
      if (isCliError(err) && !hasCode(err, ErrorCode.Connection)) throw err;
    }
    if (received) {
      delay = base;
    } else {
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export interface WaitForObjectOptions {
  kind: KindInfo;
  namespace?: string;
  name: string;
  /** true when the wait is over; receives undefined when the object does not exist */
  predicate: (obj: Obj | undefined) => boolean;
  /** aborts the wait (timeout or interrupt) */
  signal: AbortSignal;
  /** polling interval when watching is not possible (default 1000 ms) */
  pollIntervalMs?: number;
  /** notes for -v */
  log?: (line: string) => void;
}

function matchesObject(o: WaitForObjectOptions, obj: unknown): boolean {
  if (nameOf(obj) !== o.name) return false;
  const ns = namespaceOf(obj);
  return !o.kind.namespaced || o.namespace === undefined || ns === undefined || ns === o.namespace;
}

async function pollObject(client: ApiClient, o: WaitForObjectOptions): Promise<boolean> {
  const path = resourcePath(o.kind, { namespace: o.namespace, name: o.name });
  while (!o.signal.aborted) {
    let obj: Obj | undefined;
    try {
      obj = await client.get<Obj>(path, { signal: o.signal });
    } catch (err) {
      if (o.signal.aborted) return false;
      if (isNotFound(err)) obj = undefined;
      else if (hasCode(err, ErrorCode.Connection)) {
        await sleep(o.pollIntervalMs ?? 1000, o.signal);
        continue;
      } else throw err;
    }
    if (o.predicate(obj)) return true;
    await sleep(o.pollIntervalMs ?? 1000, o.signal);
  }
  return false;
}

/** Whether an API error on list/watch means "this server cannot watch here": fall back to polling. */
function watchUnsupported(err: unknown): boolean {
  return isApiError(err) && err.status !== 401 && err.status !== 403 && !isExpired(err) && err.status < 500;
}

/**
 * Waits until the predicate holds for one object: lists it with `fieldSelector=metadata.name=NAME`,
 * then watches from the list's resourceVersion (re-listing on 410); falls back to polling GET
 * when the server refuses the list or the watch. Returns false when the signal aborted first.
 */
export async function waitForObject(client: ApiClient, o: WaitForObjectOptions): Promise<boolean> {
  const target: CollectionTarget = {
    kind: o.kind,
    namespace: o.namespace,
    fieldSelector: `metadata.name=${o.name}`,
  };
  while (!o.signal.aborted) {
    let list;
    try {
      list = await listObjects(client, target, o.signal);
    } catch (err) {
      if (o.signal.aborted) return false;
      if (watchUnsupported(err)) {
        o.log?.(`list failed (${(err as Error).message}); polling instead`);
        return pollObject(client, o);
      }
      if (hasCode(err, ErrorCode.Connection)) {
        await sleep(1000, o.signal);
        continue;
      }
      throw err;
    }
    // a server that ignored the field selector must not make us report another object
    let current = list.items.find((it) => matchesObject(o, it));
    if (o.predicate(current)) return true;
    if (!list.resourceVersion) return pollObject(client, o);
    try {
      for await (const ev of watchFrom(client, target, list.resourceVersion, { signal: o.signal })) {
        if (ev.type === 'BOOKMARK' || !matchesObject(o, ev.object)) continue;
        current = ev.type === 'DELETED' ? undefined : (ev.object as Obj);
        if (o.predicate(current)) return true;
      }
      return false;
    } catch (err) {
      if (o.signal.aborted) return false;
      if (isExpired(err)) {
        o.log?.('watch expired; listing again');
        continue;
      }
      if (watchUnsupported(err)) {
        o.log?.(`watch failed (${(err as Error).message}); polling instead`);
        return pollObject(client, o);
      }
      throw err;
    }
  }
  return false;
}

/** A signal that aborts on the parent signal or after `ms` (no timeout when ms is undefined). */
export function withTimeout(parent: AbortSignal | undefined, ms: number | undefined): AbortSignal {
  const signals: AbortSignal[] = [];
  if (parent) signals.push(parent);
  if (ms !== undefined && ms >= 0) signals.push(AbortSignal.timeout(Math.max(ms, 1)));
  if (signals.length === 0) return new AbortController().signal;
  return signals.length === 1 ? signals[0] : AbortSignal.any(signals);
}
