// The Koa application of one stateless frontend: Kubernetes-style routes over the object store.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { BadRequestError, MethodNotAllowedError, NotFoundError } from '../errors';
import { GROUP, VERSION, kindByPlural, type KindInfo } from '../schemas/kinds';
import type { Validator } from '../schemas/validate';
import type { ObjectStore } from '../store';
import { errorMiddleware } from './middleware/errors';
import { ApiMetrics } from './metrics';
import { DEFAULT_BODY_LIMITS, type BodyLimits } from './negotiate';
import type { ProjectCache } from './project-cache';
import { ResourceHandlers, type Target } from './resources';
import { watchRequested } from './decode/list-options';
import { mountDiscovery } from './routes-discovery';
import { VmActions } from './actions/handler';
import { VM_ACTIONS } from './actions/decide';
import { RequestValidator } from '../schemas/requests';
import { FeedHub } from './feed-hub';
import { ConsoleProxy } from './console/proxy';
import { mountConsole } from './console/routes';
import { mountLeases } from './networks/leases';
import { upgradeListener } from './console/upgrade';
import type { Security } from './auth/security';
import type { MetricsStore } from '../store/samples';
import { mountMetrics } from './routes-metrics';
import { mountEvents } from './events/routes';
import type { EventRepository } from '../store/events';
import { largeBodyGate, type LargeBodyGateOptions } from './middleware/large-bodies';
import { PROBE_PATHS, type Clock } from '../runtime';

export interface AppOptions {
  store: ObjectStore;
  validator: Validator;
  logger: Logger;
  metrics?: ApiMetrics;
  limits?: Partial<BodyLimits>;
  /** watch timings: feed polling, BOOKMARK period (default 60 s), idle keep-alive (default 30 s), stream lifetime */
  watch?: Partial<{ pollMs: number; bookmarkMs: number; keepAliveMs: number; maxTimeoutSeconds: number }>;
  clock?: Clock;
  /** readiness: resolves undefined when this frontend can serve, else why not (/readyz answers 503 with it) */
  notReady?: () => Promise<string | undefined>;
  /** authentication, authorization, admission (quota), rate limits, audit: api/auth/security.ts */
  security: Security;
  /** how many requests with large bodies are served at once (memory bound): api/middleware/large-bodies.ts */
  largeBodies?: LargeBodyGateOptions;
  /** the agents' monitoring samples and accounting; serves metrics.stratuslab.eu when given */
  monitoring?: MetricsStore;
  /** the Events the controllers and agents record; serves core/v1 events (read-only) when given */
  events?: EventRepository;
  /** the cluster's console key (store/cluster-secrets.ts): VM consoles and logs through the agents; none: they answer 503 */
  consoleKey?: Uint8Array;
}

export interface StratusApp {
  app: Koa;
  metrics: ApiMetrics;
  /** stops the shared feed followers and ends the console sessions */
  close(): void;
  /**
   * the frontend is stopping (SIGTERM): /readyz answers 503, new requests are refused (503 with
   * Retry-After, the connection closed after each response) and every watch ends (a last
   * BOOKMARK, then the end of the stream); requests already in flight finish
   */
  drain(): void;
  /** the node server's 'upgrade' listener: websockets (VM consoles) through the same middleware as requests */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

type Verb = 'list' | 'create' | 'deletecollection' | 'get' | 'update' | 'patch' | 'delete';

export function createApp(o: AppOptions): StratusApp {
  const app = new Koa();
  app.proxy = false;
  app.on('error', (err: NodeJS.ErrnoException) => {
    // A watcher that hangs up closes its stream early: that is how watches end.
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    o.logger.error({ err }, 'unhandled error in the HTTP layer');
  });
  const metrics = o.metrics ?? new ApiMetrics();
  const limits = { ...DEFAULT_BODY_LIMITS, ...o.limits };
  const projects: ProjectCache = o.security.projects;
  const watch = { pollMs: 250, bookmarkMs: 60_000, keepAliveMs: 30_000, maxTimeoutSeconds: 1800, ...o.watch };
  const hub = new FeedHub({ store: o.store, logger: o.logger, pollMs: watch.pollMs, clock: o.clock });
  const handlers = new ResourceHandlers({
    store: o.store, validator: o.validator, logger: o.logger, limits, projects, clock: o.clock, watch, hub,
    onWatchOpen: () => metrics.watches.inc(), onWatchClose: () => metrics.watches.dec(),
    admission: o.security.admission, scope: (ctx, t) => o.security.listScope(ctx, t),
  });

  let draining = false;
  app.use(async (ctx: Context, next: Next) => {
    if (draining) {
      // Keep-alive connections end with this response: the client reconnects to another frontend.
      ctx.set('Connection', 'close');
      // Probes are still answered: load balancers must see /readyz turn false.
      if (!PROBE_PATHS.has(ctx.path)) {
        ctx.status = 503;
        ctx.set('Retry-After', '1');
        ctx.body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server is shutting down', reason: 'ServiceUnavailable', code: 503 };
        return;
      }
    }
    // A caller's id is kept when it is a short token (it is logged and echoed); otherwise a new one.
    const given = ctx.get('X-Request-Id');
    const id = /^[A-Za-z0-9._:=+/-]{1,128}$/.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.state.log = o.logger.child({ req: id });
    ctx.set('X-Request-Id', id);
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const resource = (ctx.state.target as Target | undefined)?.kind.plural ?? 'other';
      const verb = ctx.state.verb ?? ctx.method.toLowerCase();
      metrics.requests.inc({ verb, resource, code: String(ctx.status) });
      if (verb !== 'watch') metrics.latency.observe({ verb, resource }, ms / 1000);
      ctx.state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 }, 'request');
    }
  });
  app.use(o.security.auditTrail());
  app.use(errorMiddleware());
  app.use(o.security.authenticate());
  app.use(largeBodyGate(o.largeBodies));

  const router = new Router();
  router.get('/healthz', (ctx) => { ctx.type = 'text/plain'; ctx.body = 'ok'; });
  router.get('/livez', (ctx) => { ctx.type = 'text/plain'; ctx.body = 'ok'; });
  router.get('/readyz', async (ctx) => {
    const why = draining ? 'shutting down' : o.notReady ? await o.notReady().catch((err) => `readiness check failed: ${String(err)}`) : undefined;
    ctx.status = why ? 503 : 200;
    ctx.type = 'text/plain';
    ctx.body = why ?? 'ok';
  });
  router.get('/metrics', async (ctx) => {
    o.security.authorizeMetrics(ctx);
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  mountDiscovery(router, {
    store: o.store, validator: o.validator, projects,
    mayView: (ctx, name) => o.security.mayViewProject(ctx, name), forbidden: (ctx, name) => o.security.namespaceForbidden(ctx, name),
  });
  o.security.mount(router);
  if (o.events) {
    mountEvents(router, {
      events: o.events, store: o.store, hub, logger: o.logger, clock: o.clock, watch,
      authorize: (ctx, t, verb) => o.security.authorize(ctx, t, verb), scope: (ctx, t) => o.security.listScope(ctx, t),
      onWatchOpen: () => metrics.watches.inc(), onWatchClose: () => metrics.watches.dec(),
    });
  }
  if (o.monitoring) {
    mountMetrics(router, { metrics: o.monitoring, clock: o.clock, authorize: (ctx, ns) => o.security.authorizeMonitoring(ctx, ns) });
  }

  const base = `/apis/${GROUP}/${VERSION}`;
  const actions = new VmActions({ store: o.store, requests: new RequestValidator(), limits, admission: o.security.admission, clock: o.clock, logger: o.logger });
  const target = async (ctx: Context, verb: Verb, sub?: Target['subresource']): Promise<Target> => {
    const p = ctx.params as Record<string, string>;
    const kind: KindInfo | undefined = kindByPlural(p['plural']);
    if (!kind) throw new NotFoundError('the server could not find the requested resource');
    const inNamespace = p['namespace'] !== undefined;
    if (inNamespace && !kind.namespaced) throw new NotFoundError('the server could not find the requested resource');
    if (!inNamespace && kind.namespaced && p['name'] !== undefined) throw new NotFoundError('the server could not find the requested resource');
    if (!inNamespace && kind.namespaced && verb === 'create') throw new NotFoundError('the server could not find the requested resource (POST to a namespaced resource needs /namespaces/{namespace}/ in the path)');
    if (inNamespace && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p['namespace'])) throw new BadRequestError(`invalid namespace "${p['namespace']}"`);
    const t: Target = { kind, namespace: inNamespace ? p['namespace'] : '', name: p['name'], allNamespaces: !inNamespace && kind.namespaced, subresource: sub };
    ctx.state.target = t;
    ctx.state.verb = verb === 'list' && watchRequested(ctx) ? 'watch' : verb;
    await o.security.authorize(ctx, t, ctx.state.verb);
    return t;
  };

  for (const prefix of [`${base}/namespaces/:namespace`, base]) {
    router.get(`${prefix}/:plural`, async (ctx) => handlers.list(ctx, await target(ctx, 'list')));
    router.post(`${prefix}/:plural`, async (ctx) => handlers.create(ctx, await target(ctx, 'create')));
    router.delete(`${prefix}/:plural`, async (ctx) => handlers.removeCollection(ctx, await target(ctx, 'deletecollection')));
    router.get(`${prefix}/:plural/:name`, async (ctx) => handlers.get(ctx, await target(ctx, 'get')));
    router.put(`${prefix}/:plural/:name`, async (ctx) => handlers.replace(ctx, await target(ctx, 'update')));
    router.patch(`${prefix}/:plural/:name`, async (ctx) => handlers.patch(ctx, await target(ctx, 'patch')));
    router.delete(`${prefix}/:plural/:name`, async (ctx) => handlers.remove(ctx, await target(ctx, 'delete')));
    router.get(`${prefix}/:plural/:name/status`, async (ctx) => handlers.get(ctx, await target(ctx, 'get', 'status')));
    router.put(`${prefix}/:plural/:name/status`, async (ctx) => handlers.replace(ctx, await target(ctx, 'update', 'status')));
    router.patch(`${prefix}/:plural/:name/status`, async (ctx) => handlers.patch(ctx, await target(ctx, 'patch', 'status')));
  }
  // VM actions (start, stop, restart), authorized as updates of virtualmachines/ACTION: api/actions/.
  for (const action of VM_ACTIONS) {
    const act = async (ctx: Context) => {
      if ((ctx.params as Record<string, string>)['plural'] !== 'virtualmachines') throw new NotFoundError('the server could not find the requested resource');
      await actions.handle(ctx, await target(ctx, 'update', action), action);
    };
    router.put(`${base}/namespaces/:namespace/:plural/:name/${action}`, act);
    router.post(`${base}/namespaces/:namespace/:plural/:name/${action}`, act);
  }
  // VM consoles, VNC and console logs, proxied to the agents: api/console/.
  const consoles = new ConsoleProxy({ store: o.store, key: o.consoleKey, logger: o.logger, clock: o.clock });
  mountConsole(router, base, { proxy: consoles, authorize: (ctx, t, verb) => o.security.authorize(ctx, t, verb) });
  // A Network's leases (its AddressClaims), read-only: api/networks/leases.ts.
  mountLeases(router, base, { store: o.store, authorize: (ctx, t, verb) => o.security.authorize(ctx, t, verb), mayView: (ctx, p) => o.security.mayViewProject(ctx, p) });
  app.use(router.routes());
  // As Status objects (through the error middleware), like every other error.
  const notAllowed = () => new MethodNotAllowedError('the server does not allow this method on the requested resource');
  app.use(router.allowedMethods({ throw: true, methodNotAllowed: notAllowed, notImplemented: notAllowed }));
  return {
    app, metrics, upgrade: upgradeListener(app.callback()),
    close: () => {
      hub.close();
      consoles.close();
    },
    drain: () => {
      draining = true;
      hub.drain();
    },
  };
}
