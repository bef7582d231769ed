// ListOptions of a list, watch or deletecollection, from the query, decoded as Kubernetes does
// before anything is read: 400 naming the parameter when malformed, 422 for forbidden combinations.

import type { Context } from 'koa';
import { BadRequestError, InvalidError, type StatusCause } from '../../errors';
import type { RequestValidator } from '../../schemas/requests';
import { formatCause } from '../../schemas/validate';
import { parseFieldSelector, parseLabelSelector, type FieldRequirement, type LabelSelector } from '../../store';
import { META_GROUP } from './delete-options';
import { resourceVersionParam } from '../resource-version';

/** The parameters of schemas/requests/listoptions.json. */
const PARAMETERS = [
  'labelSelector', 'fieldSelector', 'watch', 'allowWatchBookmarks', 'sendInitialEvents', 'resourceVersion',
  'resourceVersionMatch', 'timeoutSeconds', 'limit', 'continue',
] as const;
const MATCHES = ['Exact', 'NotOlderThan'] as const;

export interface ListOptions {
  watch: boolean;
  labelSelector: LabelSelector;
  fieldSelector: FieldRequirement[];
  /** undefined: unset or ""; else "0" or a timeuuid (api/resource-version.ts) */
  resourceVersion?: string;
  resourceVersionMatch?: (typeof MATCHES)[number];
  /** undefined: unset or not positive (no limit: the server's page size) */
  limit?: number;
  continue?: string;
  /** undefined: unset or not positive; at most maxTimeoutSeconds */
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
}

/** As Kubernetes: a present parameter other than false or 0 (even empty, as in ?watch) is true. */
function bool(v: string | undefined): boolean {
  return v !== undefined && !/^(false|0)$/i.test(v);
}

function positive(v: string | undefined): number | undefined {
  const n = v === undefined || v === '' ? 0 : Number(v);
  return n > 0 ? n : undefined;
}

/** Whether a list request asks for a watch (for authorization's verb; the value is checked by decodeListOptions). */
export function watchRequested(ctx: Context): boolean {
  const v = ctx.query['watch'];
  return bool(Array.isArray(v) ? v[v.length - 1] : v);
}

/** Decodes and checks the query; throws before the caller reads anything. */
export function decodeListOptions(
  ctx: Context, requests: RequestValidator,
  opts: { maxTimeoutSeconds: number; /** the fields a fieldSelector may name (core/v1 Events have their own); default the Stratus kinds' */ fields?: Readonly<Record<string, unknown>> },
): ListOptions {
  const q: Partial<Record<(typeof PARAMETERS)[number], string>> = {};
  for (const name of PARAMETERS) {
    const v = ctx.query[name];
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) q[name] = last;
  }
  const { causes } = requests.listOptions(q as Record<string, string>);
  if (causes.length > 0) {
    throw new BadRequestError(`invalid query parameters: ${causes.map(formatCause).join(', ')}`, { kind: 'ListOptions', group: META_GROUP, causes });
  }
  const watch = bool(q.watch);
  const rv = resourceVersionParam(ctx);
  const match = q.resourceVersionMatch || undefined;
  const cont = q.continue || undefined;
  validate({ watch, rv, match, cont, sendInitialEvents: q.sendInitialEvents !== undefined });
  if (!watch && cont && rv && rv !== '0') throw new BadRequestError('specifying resource version is not allowed when using continue');
  const timeout = positive(q.timeoutSeconds);
  return {
    watch,
    labelSelector: parseLabelSelector(q.labelSelector || undefined),
    fieldSelector: parseFieldSelector(q.fieldSelector || undefined, opts.fields),
    resourceVersion: rv,
    resourceVersionMatch: match as ListOptions['resourceVersionMatch'],
    limit: positive(q.limit),
    continue: cont,
    timeoutSeconds: timeout === undefined ? undefined : Math.min(timeout, opts.maxTimeoutSeconds),
    allowWatchBookmarks: bool(q.allowWatchBookmarks),
  };
}

/**
 * Kubernetes' ValidateListOptions (422 Invalid ListOptions.meta.k8s.io), with the WatchList feature
 * off: this server streams no initial events, so sendInitialEvents is refused and clients fall
 * back to list and watch.
 */
function validate(o: { watch: boolean; rv?: string; match?: string; cont?: string; sendInitialEvents: boolean }): void {
  const causes: StatusCause[] = [];
  const forbidden = (field: string, message: string) => causes.push({ field, reason: 'FieldValueForbidden', message: `Forbidden: ${message}` });
  const notSupported = (supported: string[]) => causes.push({
    field: 'resourceVersionMatch', reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${JSON.stringify(o.match)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
  });
  if (o.watch) {
    if (o.sendInitialEvents) {
      if (o.match !== 'NotOlderThan') forbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
      forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled');
    }
    if (o.match) {
      if (!o.sendInitialEvents) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
      if (o.match !== 'NotOlderThan') notSupported(['NotOlderThan']);
      if (o.cont) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
    }
  } else {
    if (o.match) {
      if (!o.rv) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (o.cont) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
      if (!(MATCHES as readonly string[]).includes(o.match)) notSupported([...MATCHES, '']);
      if (o.match === 'Exact' && o.rv === '0') forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    }
    if (o.sendInitialEvents) forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list');
  }
  if (causes.length > 0) {
    const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    throw new InvalidError(`ListOptions.${META_GROUP} "" is invalid: ${summary}`, { kind: 'ListOptions', group: META_GROUP, name: '', causes });
  }
}
