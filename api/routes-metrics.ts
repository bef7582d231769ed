// Monitoring and accounting read by `stratus top` and `stratus usage`: the samples and hourly
// usage that agents push into Cassandra (agents/metrics), under the metrics.stratuslab.eu group.

import type Router from '@koa/router';
import type { Context } from 'koa';
import type { MetricsStore } from '../store/samples';
import { BadRequestError } from '../errors';
import { sendObject } from './negotiate';
import { queryString } from './request';
import { systemClock, type Clock } from '../runtime';

export const METRICS_BASE = '/apis/metrics.stratuslab.eu/v1alpha1';
const MAX_RANGE_MS = 400 * 86_400_000;

export interface MetricsRouteOptions {
  metrics: MetricsStore;
  /** authorization hook: throws when the caller may not read this (namespace undefined = cluster-wide) */
  authorize?: (ctx: Context, namespace: string | undefined) => Promise<void>;
  clock?: Clock;
}

/** A time parameter: RFC 3339, or milliseconds since the epoch. */
function timeParam(ctx: Context, name: string, fallback: number): number {
  const v = queryString(ctx, name);
  if (v === undefined) return fallback;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new BadRequestError(`${name}: "${v}" is neither an RFC 3339 time nor milliseconds since the epoch`);
  return t;
}

export function mountMetrics(router: Router, o: MetricsRouteOptions): void {
  const clock = o.clock ?? systemClock;
  const authorize = o.authorize ?? (async () => undefined);

  router.get(`${METRICS_BASE}/hosts`, async (ctx) => {
    await authorize(ctx, undefined);
    sendObject(ctx, { kind: 'HostMetricsList', apiVersion: 'metrics.stratuslab.eu/v1alpha1', items: await o.metrics.topHosts() });
  });
  router.get(`${METRICS_BASE}/virtualmachines`, async (ctx) => {
    await authorize(ctx, undefined);
    sendObject(ctx, { kind: 'VirtualMachineMetricsList', apiVersion: 'metrics.stratuslab.eu/v1alpha1', items: await o.metrics.topVms() });
  });
  router.get(`${METRICS_BASE}/namespaces/:namespace/virtualmachines`, async (ctx) => {
    await authorize(ctx, ctx.params['namespace']);
    sendObject(ctx, { kind: 'VirtualMachineMetricsList', apiVersion: 'metrics.stratuslab.eu/v1alpha1', items: await o.metrics.topVms(ctx.params['namespace']) });
  });
  router.get(`${METRICS_BASE}/namespaces/:namespace/usage`, async (ctx) => {
    const namespace = ctx.params['namespace'];
    await authorize(ctx, namespace);
    const now = clock.now();
    const to = timeParam(ctx, 'to', now);
    const from = timeParam(ctx, 'from', to - 86_400_000);
    if (from >= to) throw new BadRequestError('from: must be before to');
    if (to - from > MAX_RANGE_MS) throw new BadRequestError('from: the range may span at most 400 days');
    const groupBy = queryString(ctx, 'groupBy') ?? 'vm';
    if (groupBy !== 'vm' && groupBy !== 'hour') throw new BadRequestError(`groupBy: Unsupported value: "${groupBy}": supported values: "vm", "hour"`);
    const items = await o.metrics.usage({ namespace, fromMs: from, toMs: to, groupBy });
    sendObject(ctx, {
      kind: 'UsageReport', apiVersion: 'metrics.stratuslab.eu/v1alpha1',
      namespace, from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy, items,
    });
  });
}
