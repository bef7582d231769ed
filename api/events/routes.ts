// core/v1 Events, read-only: GET /api/v1/events (every namespace the caller may see; '' holds the
// events of cluster-scoped objects such as Hosts, for administrators), GET
// /api/v1/namespaces/{ns}/events[/{name}], with field and label selectors, paging, watch and Tables
// (kubectl get events, kubectl events, kubectl describe). Authorized as every namespaced kind: a
// project's viewers may read its Events. Writes answer 405: only the recorders write Events.

import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { BadRequestError, MethodNotAllowedError, NotFoundError } from '../../errors';
import { EVENT_API_VERSION, EVENT_FIELDS, EVENT_KIND, type EventObject } from '../../kube/events';
import { matchesFields, pinnedField, type ObjectStore, type StoredObject } from '../../store';
import type { EventRepository } from '../../store/events';
import { RequestValidator } from '../../schemas/requests';
import { systemClock, type Clock } from '../../runtime';
import { decodeListOptions } from '../decode/list-options';
import type { FeedHub } from '../feed-hub';
import { sendObject } from '../negotiate';
import { tableRequest } from '../printing';
import type { ListScope } from '../resources';
import { parseTableAccept } from '../table';
import type { Target } from '../target';
import { Watcher, type WatchCollection } from '../watch';
import { eventsTable } from './table';

export interface EventRoutesOptions {
  events: EventRepository;
  /** Projects (the namespaces of an all-namespace list) */
  store: ObjectStore;
  hub?: FeedHub;
  logger: Logger;
  clock?: Clock;
  watch: { pollMs: number; bookmarkMs: number; maxTimeoutSeconds: number; keepAliveMs?: number; futureRvWaitMs?: number };
  /** authorization of the request (403), as for the other kinds */
  authorize(ctx: Context, t: Target, verb: 'get' | 'list' | 'watch'): Promise<void>;
  /** what a list or watch may return (undefined: everything, for administrators) */
  scope(ctx: Context, t: Target): Promise<ListScope | undefined>;
  onWatchOpen?: () => void;
  onWatchClose?: () => void;
}

const NS_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function mountEvents(router: Router, o: EventRoutesOptions): void {
  const clock = o.clock ?? systemClock;
  const requests = new RequestValidator();
  const watcher = new Watcher({ store: o.store, hub: o.hub, logger: o.logger, ...o.watch, clock, onOpen: o.onWatchOpen, onClose: o.onWatchClose });

  const target = (ctx: Context, namespace: string | undefined, name?: string): Target => {
    if (namespace !== undefined && !NS_RE.test(namespace)) throw new BadRequestError(`invalid namespace "${namespace}"`);
    const t: Target = { kind: EVENT_KIND, namespace: namespace ?? '', name, allNamespaces: namespace === undefined };
    ctx.state.target = t;
    return t;
  };

  /** Every project, and '' (the events of cluster-scoped objects). */
  const allNamespaces = async (): Promise<string[]> => {
    const out = [''];
    let cont: string | undefined;
    do {
      const page = await o.store.list('Project', undefined, { continue: cont, limit: 1000 });
      out.push(...page.items.map((p) => p.metadata.name));
      cont = page.continue;
    } while (cont);
    return out;
  };

  const list = async (ctx: Context, namespace: string | undefined) => {
    const t = target(ctx, namespace);
    const q = decodeListOptions(ctx, requests, { maxTimeoutSeconds: o.watch.maxTimeoutSeconds, fields: EVENT_FIELDS });
    ctx.state.verb = q.watch ? 'watch' : 'list';
    await o.authorize(ctx, t, q.watch ? 'watch' : 'list');
    const scope = await o.scope(ctx, t);
    let namespaces: string[];
    if (namespace !== undefined) namespaces = [namespace];
    else {
      namespaces = scope?.namespaces ?? await allNamespaces();
      const pinned = pinnedField(q.fieldSelector, 'metadata.namespace') ?? pinnedField(q.fieldSelector, 'involvedObject.namespace');
      if (pinned !== undefined) namespaces = namespaces.filter((n) => n === pinned);
    }
    const read = (cont: string | undefined, limit?: number) =>
      o.events.list(namespaces, { limit, continue: cont, fieldSelector: q.fieldSelector, labelSelector: q.labelSelector });
    if (q.watch) {
      const collection: WatchCollection = {
        apiVersion: EVENT_API_VERSION,
        list: (cont) => read(cont) as Promise<{ items: StoredObject[]; continue?: string }>,
        matches: (e) => matchesFields(q.fieldSelector, e as unknown as EventObject, EVENT_FIELDS),
        table: (e, first, includeObject) => eventsTable([e as unknown as EventObject], {
          includeObject, noHeaders: !first, now: clock.now(), resourceVersion: e.metadata.resourceVersion,
        }),
      };
      // Not an administrator: only the namespaces of the caller's list, while they keep access.
      const allowed = new Set(namespaces);
      const allow = scope && (async (e: StoredObject) => (namespace !== undefined || allowed.has(e.metadata.namespace ?? '')) && (!scope.watchFilter || await scope.watchFilter(e)));
      await watcher.serve(ctx, {
        kind: EVENT_KIND, namespace, labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, resourceVersion: q.resourceVersion,
        bookmarks: q.allowWatchBookmarks, timeoutSeconds: q.timeoutSeconds, table: tableRequest(ctx), collection, allow,
      });
      return;
    }
    const page = await read(q.continue, q.limit);
    send(ctx, page.items, { resourceVersion: page.resourceVersion, continue: page.continue }, clock.now());
  };

  const get = async (ctx: Context) => {
    const { namespace, name } = ctx.params as Record<string, string>;
    const t = target(ctx, namespace, name);
    ctx.state.verb = 'get';
    await o.authorize(ctx, t, 'get');
    const e = await o.events.get(namespace, name);
    if (!e) throw new NotFoundError(`events "${name}" not found`, { name, kind: 'events' });
    const table = parseTableAccept(ctx.get('Accept'));
    if (table) {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(eventsTable([e], { ...tableRequest(ctx), version: table.version, now: clock.now(), resourceVersion: e.metadata.resourceVersion }));
      return;
    }
    sendObject(ctx, e);
  };

  const readOnly = () => {
    throw new MethodNotAllowedError('Events are read-only: they are recorded by the Stratus controllers and agents');
  };
  for (const p of ['/api/v1/events', '/api/v1/namespaces/:namespace/events', '/api/v1/namespaces/:namespace/events/:name']) {
    router.post(p, readOnly).put(p, readOnly).patch(p, readOnly).delete(p, readOnly);
  }
  router.get('/api/v1/events', (ctx) => list(ctx, undefined));
  router.get('/api/v1/namespaces/:namespace/events', (ctx) => list(ctx, (ctx.params as Record<string, string>)['namespace']));
  router.get('/api/v1/namespaces/:namespace/events/:name', get);
}

function send(ctx: Context, items: EventObject[], meta: { resourceVersion: string; continue?: string }, now: number): void {
  const table = parseTableAccept(ctx.get('Accept'));
  if (table) {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(eventsTable(items, { ...tableRequest(ctx), version: table.version, now, ...meta }));
    return;
  }
  const metadata: Record<string, string> = { resourceVersion: meta.resourceVersion };
  if (meta.continue) metadata['continue'] = meta.continue;
  sendObject(ctx, { kind: 'EventList', apiVersion: EVENT_API_VERSION, metadata, items });
}
