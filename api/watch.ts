// Watch: newline-delimited JSON events following the change feed from any resourceVersion; headers
// at once, BOOKMARKs and keep-alives while idle; ERROR events for a too-old (410) or future (504) cursor.

import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { isStratusError } from '../errors';
import type { KindInfo } from '../schemas/kinds';
import {
  matchesFields, matchesLabels, type FieldRequirement, type LabelSelector, type ObjectStore, type StoredObject, type WatchEvent,
} from '../store';
import { statusFromError } from './status';
import { watchEventTable } from './table';
import type { EventSource, FeedHub } from './feed-hub';
import type { IncludeObject } from './printing';
import { sleep, systemClock, type Clock } from '../runtime';
import { DEFAULT_FUTURE_RV_WAIT_MS, invalidResourceVersion, msAhead, tooLargeResourceVersion, validResourceVersion } from './resource-version';

export interface WatcherOptions {
  store: ObjectStore;
  /** shared followers; without it every stream follows the feed itself */
  hub?: FeedHub;
  logger: Logger;
  /** how often the feed is read; default 250 ms */
  pollMs: number;
  /** how often a BOOKMARK is sent when asked for (kube-apiserver: about a minute) */
  bookmarkMs: number;
  /** a newline is sent after this long without any event, so proxies keep an idle stream open; default 30 s (0: never) */
  keepAliveMs?: number;
  /** a cursor at most this far ahead of the clock is accepted (frontends' clocks differ); default 3 s */
  futureRvWaitMs?: number;
  /** upper bound of a stream's life; default 1800 s */
  maxTimeoutSeconds: number;
  clock?: Clock;
  onOpen?: () => void;
  onClose?: () => void;
}

export interface WatchRequest {
  kind: KindInfo;
  namespace?: string;
  labelSelector: LabelSelector;
  fieldSelector: FieldRequirement[];
  resourceVersion?: string;
  bookmarks: boolean;
  timeoutSeconds?: number;
  table?: { includeObject: IncludeObject };
  /** authorization: only objects this accepts are sent (checked per event) */
  allow?: (o: StoredObject) => Promise<boolean>;
  /** a collection outside the object store (core/v1 Events): how it lists, matches and prints */
  collection?: WatchCollection;
}

/** What a watch needs of a collection the object store does not hold (api/events/). */
export interface WatchCollection {
  /** apiVersion of its BOOKMARKs */
  apiVersion: string;
  /** one page of the current objects (the ADDED events of a watch from "now") */
  list(cont?: string): Promise<{ items: StoredObject[]; continue?: string }>;
  /** the request's field selector, on this collection's fields */
  matches(o: StoredObject): boolean;
  /** the one-row Table of a watch event (headers on the first) */
  table(o: StoredObject, first: boolean, includeObject: IncludeObject): unknown;
}

export class Watcher {
  private readonly clock: Clock;

  constructor(private readonly o: WatcherOptions) {
    this.clock = o.clock ?? systemClock;
  }

  async serve(ctx: Context, req: WatchRequest): Promise<void> {
    const rv = req.resourceVersion;
    if (rv !== undefined && !validResourceVersion(rv)) throw invalidResourceVersion(rv);
    const out = new PassThrough();
    const abort = new AbortController();
    ctx.req.on('close', () => abort.abort());
    ctx.status = 200;
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-cache, private');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = out;
    // Without this, Node sends nothing until the first event: an idle watch would get no answer.
    ctx.res.flushHeaders();
    const timeoutMs = (req.timeoutSeconds ?? this.o.maxTimeoutSeconds) * 1000;
    const timer = this.clock.setTimeout(() => abort.abort(), timeoutMs);
    out.on('close', () => abort.abort());
    this.run(out, req, abort.signal)
      .catch((err) => {
        if (!isStratusError(err)) this.o.logger.error({ err }, 'watch failed');
        if (!out.writableEnded) out.write(JSON.stringify({ type: 'ERROR', object: statusFromError(err) }) + '\n');
      })
      .finally(() => {
        this.clock.clearTimeout(timer);
        if (!out.writableEnded) out.end();
      });
  }

  private async run(out: PassThrough, req: WatchRequest, signal: AbortSignal): Promise<void> {
    const { store } = this.o;
    // Labels are checked by throughLabelSelector (an object leaving the selection is DELETED).
    const keep = (o: StoredObject) =>
      (req.namespace === undefined || (o.metadata.namespace ?? '') === req.namespace) &&
      (req.collection ? req.collection.matches(o) : matchesFields(req.fieldSelector, o));
    let first = true;
    let lastWrite = this.clock.now();
    const send = (ev: WatchEvent | { type: 'BOOKMARK'; object: unknown }) => {
      lastWrite = this.clock.now();
      let object = ev.object;
      if (req.table && ev.type !== 'BOOKMARK') {
        object = req.collection
          ? req.collection.table(ev.object, first, req.table.includeObject)
          : watchEventTable(req.kind, ev.object, first, req.table.includeObject);
        first = false;
      }
      out.write(JSON.stringify({ type: ev.type, object }) + '\n');
    };

    const rv = req.resourceVersion;
    if (rv !== undefined && rv !== '0') {
      // As kube-apiserver once the stream is open: an ERROR event, not an HTTP error.
      const current = store.currentResourceVersion();
      if (msAhead(rv, current) > (this.o.futureRvWaitMs ?? DEFAULT_FUTURE_RV_WAIT_MS)) throw tooLargeResourceVersion(rv, current);
    }
    const open = (from?: string): EventSource => this.o.hub ? this.o.hub.open(req.kind.kind, from) : store.follow(req.kind.kind, from);
    let follower: EventSource;
    if (rv === undefined || rv === '0') {
      // "Start at most recent": the current objects as ADDED, then changes since the list began.
      follower = open();
      let cont: string | undefined;
      do {
        const page = req.collection
          ? await req.collection.list(cont)
          : await store.list(req.kind.kind, req.namespace, { continue: cont, labelSelector: req.labelSelector, fieldSelector: req.fieldSelector });
        for (const o of page.items) if (!req.allow || await req.allow(o)) send({ type: 'ADDED', object: o });
        cont = page.continue;
      } while (cont && !signal.aborted);
    } else {
      follower = open(rv);
    }
    this.o.onOpen?.();
    // A draining frontend ends every watch: the events read so far, a last BOOKMARK (when asked
    // for) with a cursor that covers them, then the end of the stream: the client resumes there
    // on another frontend without missing anything.
    const ending = this.o.hub?.draining;
    const stop = ending ? AbortSignal.any([signal, ending]) : signal;
    try {
      const clock = this.clock;
      let lastBookmark = clock.now();
      const bookmark = (rv: string) => {
        send({ type: 'BOOKMARK', object: { kind: req.kind.kind, apiVersion: req.collection?.apiVersion ?? 'stratuslab.eu/v1alpha1', metadata: { resourceVersion: rv } } });
        lastBookmark = clock.now();
      };
      for (;;) {
        // Taken before the poll: every event up to it is in what the poll returns (EventSource.cursor).
        const covered = follower.cursor();
        const events = await follower.poll();
        for (const raw of events) {
          const ev = throughLabelSelector(raw, req.labelSelector);
          if (ev && keep(ev.object) && (!req.allow || await req.allow(ev.object))) send(ev);
        }
        if (signal.aborted) break;
        if (ending?.aborted) {
          if (req.bookmarks) bookmark(covered);
          break;
        }
        if (req.bookmarks && clock.now() - lastBookmark >= this.o.bookmarkMs) bookmark(covered);
        const keepAliveMs = this.o.keepAliveMs ?? 30_000;
        if (keepAliveMs > 0 && clock.now() - lastWrite >= keepAliveMs) {
          // Whitespace between events: every watch decoder (client-go's, ours) skips it.
          out.write('\n');
          lastWrite = clock.now();
        }
        await sleep(clock, this.o.pollMs, stop);
      }
    } finally {
      follower.close();
      this.o.onClose?.();
    }
  }
}

/**
 * What a watch with a label selector sees of a change (as Kubernetes' watch cache does): an
 * object whose labels stop matching is DELETED for it, one that starts matching is ADDED; others
 * pass as they are (and are filtered on their new labels). A change that did not touch the labels
 * carries no previous labels: it matched before exactly when it matches now.
 */
export function throughLabelSelector(ev: WatchEvent, selector: LabelSelector): WatchEvent | undefined {
  if (selector.requirements.length === 0) return ev;
  const now = matchesLabels(selector, ev.object.metadata.labels);
  if (ev.type !== 'MODIFIED' || ev.prevLabels === undefined) return now ? ev : undefined;
  const before = matchesLabels(selector, ev.prevLabels);
  if (before && !now) return { type: 'DELETED', object: ev.object };
  if (!before && now) return { type: 'ADDED', object: ev.object };
  return now ? ev : undefined;
}
