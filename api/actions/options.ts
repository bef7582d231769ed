// The options of a VM action (an optional JSON or YAML body, and the dryRun query parameter),
// decoded and checked before the VM is read: 400 naming the field when they are malformed.

import type { Context } from 'koa';
import { BadRequestError } from '../../errors';
import { GROUP } from '../../schemas/kinds';
import type { RequestValidator } from '../../schemas/requests';
import { formatCause } from '../../schemas/validate';
import { readBody, JSON_TYPES, YAML_TYPES, type BodyLimits } from '../negotiate';
import { dryRun } from '../request';
import type { VmAction } from './decide';

export interface ActionOptions {
  gracePeriodSeconds?: number;
  dryRun: boolean;
}

interface RawActionOptions {
  apiVersion?: string | null;
  kind?: string | null;
  gracePeriodSeconds?: number | null;
  dryRun?: string[] | null;
}

/** The kind of each action's body, as KubeVirt names them. */
export const OPTIONS_KIND: Record<VmAction, string> = { start: 'StartOptions', stop: 'StopOptions', restart: 'RestartOptions' };

function hasBody(ctx: Context): boolean {
  if (ctx.get('Transfer-Encoding')) return true;
  const length = ctx.get('Content-Length');
  return length !== '' && length !== '0';
}

export async function readActionOptions(ctx: Context, action: VmAction, requests: RequestValidator, limits: BodyLimits): Promise<ActionOptions> {
  const fromQuery = dryRun(ctx);
  const kind = OPTIONS_KIND[action];
  const body = hasBody(ctx) ? await readBody(ctx, [...JSON_TYPES, ...YAML_TYPES], limits) : null;
  const raw: RawActionOptions = body === null ? {} : (body as RawActionOptions);
  if (body !== null) {
    const { causes } = requests.vmActionOptions(body);
    if (causes.length > 0) {
      throw new BadRequestError(`the ${kind} in the request body could not be decoded: ${causes.map(formatCause).join(', ')}`, { kind, group: GROUP, causes });
    }
  }
  if (raw.kind != null && raw.kind !== kind) {
    throw new BadRequestError(`kind: Invalid value: ${JSON.stringify(raw.kind)}: the body of a ${action} must be ${kind}`, {
      kind, group: GROUP, causes: [{ field: 'kind', reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(raw.kind)}: must be ${kind}` }],
    });
  }
  const grace = raw.gracePeriodSeconds ?? undefined;
  if (action === 'start' && grace !== undefined) {
    throw new BadRequestError('gracePeriodSeconds: Forbidden: a start has no grace period (it applies to stop and restart)', {
      kind, group: GROUP, causes: [{ field: 'gracePeriodSeconds', reason: 'FieldValueForbidden', message: 'Forbidden: a start has no grace period' }],
    });
  }
  return { gracePeriodSeconds: grace, dryRun: fromQuery || (raw.dryRun ?? []).includes('All') };
}
