// DeleteOptions of a DELETE or deletecollection, from the body or (without one) the query, decoded
// as Kubernetes does before anything is read: 400 when undecodable, 422 for unsupported values.

import type { Context } from 'koa';
import { BadRequestError, InvalidError, type StatusCause } from '../../errors';
import type { RequestValidator } from '../../schemas/requests';
import { formatCause, type FieldCause } from '../../schemas/validate';
import { readBody, JSON_TYPES, YAML_TYPES, type BodyLimits } from '../negotiate';
import { dryRun } from '../request';

export const META_GROUP = 'meta.k8s.io';
const PROPAGATION_POLICIES = ['Foreground', 'Background', 'Orphan'] as const;
/** The group versions in which Kubernetes' API server decodes a DeleteOptions body. */
const DELETE_OPTIONS_VERSIONS = ['v1', `${META_GROUP}/v1`, `${META_GROUP}/v1beta1`];

export interface DeleteOptions {
  dryRun: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  propagationPolicy?: (typeof PROPAGATION_POLICIES)[number];
}

/** The undecoded options, as in a body. */
interface RawDeleteOptions {
  apiVersion?: string | null;
  kind?: string | null;
  gracePeriodSeconds?: number | null;
  preconditions?: { uid?: string | null; resourceVersion?: string | null } | null;
  orphanDependents?: boolean | null;
  propagationPolicy?: string | null;
  dryRun?: string[] | null;
}

/** Whether the request carries a body at all (a Content-Length above 0, or a chunked body). */
function hasBody(ctx: Context): boolean {
  if (ctx.get('Transfer-Encoding')) return true;
  const length = ctx.get('Content-Length');
  return length !== '' && length !== '0';
}

/** Reads and checks the DeleteOptions of a delete; throws before the caller reads or deletes anything. */
export async function readDeleteOptions(ctx: Context, requests: RequestValidator, limits: BodyLimits): Promise<DeleteOptions> {
  const fromQuery = dryRun(ctx);
  const raw = hasBody(ctx) ? decodeBody(await readBody(ctx, [...JSON_TYPES, ...YAML_TYPES], limits), requests) : decodeQuery(ctx);
  const opts = validate(raw);
  if (fromQuery) opts.dryRun = true;
  return opts;
}

function badRequest(what: string, causes: FieldCause[]): BadRequestError {
  return new BadRequestError(`${what}: ${causes.map(formatCause).join(', ')}`, { kind: 'DeleteOptions', group: META_GROUP, causes });
}

function decodeBody(body: unknown, requests: RequestValidator): RawDeleteOptions {
  if (body === null) return {}; // JSON null decodes to empty options, as in Kubernetes
  const { causes } = requests.deleteOptions(body);
  if (causes.length > 0) throw badRequest('the DeleteOptions in the request body could not be decoded', causes);
  const raw = body as RawDeleteOptions;
  const version = raw.apiVersion || `${META_GROUP}/v1`;
  const kind = raw.kind || 'DeleteOptions';
  if (!DELETE_OPTIONS_VERSIONS.includes(version) || kind !== 'DeleteOptions') {
    throw new BadRequestError(`no kind "${kind}" is registered for version "${version}": a DELETE body must be DeleteOptions (apiVersion ${DELETE_OPTIONS_VERSIONS.join(' or ')})`);
  }
  return raw;
}

/** Without a body, the options a query may carry (dryRun is read by the caller's dryRun()). */
function decodeQuery(ctx: Context): RawDeleteOptions {
  const raw: RawDeleteOptions = {};
  const causes: FieldCause[] = [];
  const one = (name: string): string | undefined => {
    const v = ctx.query[name];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  const grace = one('gracePeriodSeconds');
  if (grace !== undefined) {
    if (/^[+-]?[0-9]{1,18}$/.test(grace)) raw.gracePeriodSeconds = Number(grace);
    else causes.push({ field: 'gracePeriodSeconds', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(grace)}: must be an integer` });
  }
  const orphan = one('orphanDependents');
  if (orphan !== undefined) {
    if (/^(true|false|1|0|)$/i.test(orphan)) raw.orphanDependents = !/^(false|0)$/i.test(orphan);
    else causes.push({ field: 'orphanDependents', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(orphan)}: must be true or false` });
  }
  const policy = one('propagationPolicy');
  if (policy !== undefined && policy !== '') raw.propagationPolicy = policy;
  if (causes.length > 0) throw badRequest('the DeleteOptions in the query could not be decoded', causes);
  return raw;
}

/** Kubernetes' ValidateDeleteOptions: 422 Invalid DeleteOptions.meta.k8s.io. */
function validate(raw: RawDeleteOptions): DeleteOptions {
  const causes: StatusCause[] = [];
  const policy = raw.propagationPolicy ?? undefined;
  if (raw.orphanDependents != null && policy !== undefined) {
    causes.push({ field: 'propagationPolicy', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(policy)}: orphanDependents and deletionPropagation cannot be both set` });
  }
  if (policy !== undefined && !(PROPAGATION_POLICIES as readonly string[]).includes(policy)) {
    causes.push({
      field: 'propagationPolicy', reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(policy)}: supported values: ${[...PROPAGATION_POLICIES, 'nil'].map((v) => JSON.stringify(v)).join(', ')}`,
    });
  }
  const dry = raw.dryRun ?? [];
  if (dry.some((v) => v !== 'All')) {
    causes.push({ field: 'dryRun', reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(dry)}: supported values: "All"` });
  }
  if (causes.length > 0) {
    const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    throw new InvalidError(`DeleteOptions.${META_GROUP} "" is invalid: ${summary}`, { kind: 'DeleteOptions', group: META_GROUP, name: '', causes });
  }
  const pre = raw.preconditions ?? undefined;
  const preconditions = pre && (pre.uid != null || pre.resourceVersion != null)
    ? { uid: pre.uid ?? undefined, resourceVersion: pre.resourceVersion ?? undefined }
    : undefined;
  return {
    dryRun: dry.includes('All'),
    preconditions,
    gracePeriodSeconds: raw.gracePeriodSeconds ?? undefined,
    propagationPolicy: (policy as DeleteOptions['propagationPolicy']) ?? undefined,
  };
}
