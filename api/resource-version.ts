// The `resourceVersion` parameter of list, get and watch: a malformed one is refused with 400
// before anything is read; one newer than this server's clock gets Kubernetes' "Too large".

import type { Context } from 'koa';
import { BadRequestError, TimeoutError } from '../errors';
import { isTimeUuid, rvTicks } from '../kube/rv';
import { sleep, type Clock } from '../runtime';
import { queryString } from './request';

/** How long a read waits for a resourceVersion slightly ahead of this frontend's clock (kube's blockTimeout). */
export const DEFAULT_FUTURE_RV_WAIT_MS = 3000;

/** `resourceVersion` of a request: undefined, "0" (any) or a timeuuid; anything else is a 400. */
export function resourceVersionParam(ctx: Context): string | undefined {
  const rv = queryString(ctx, 'resourceVersion');
  if (rv === undefined || validResourceVersion(rv)) return rv;
  throw invalidResourceVersion(rv);
}

export function validResourceVersion(rv: string): boolean {
  return rv === '0' || isTimeUuid(rv);
}

export function invalidResourceVersion(rv: string): BadRequestError {
  const shown = JSON.stringify(rv.slice(0, 100));
  return new BadRequestError(`resourceVersion: Invalid value: ${shown}: must be "0" or a resourceVersion this server returned`,
    { causes: [{ field: 'resourceVersion', reason: 'FieldValueInvalid', message: `Invalid value: ${shown}` }] });
}

/** Kubernetes' answer to a resourceVersion the server has not reached: 504 Timeout, cause ResourceVersionTooLarge. */
export function tooLargeResourceVersion(rv: string, current: string): TimeoutError {
  return new TimeoutError(`Timeout: Too large resource version: ${rv}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

/** Milliseconds by which `rv` is ahead of `current` (0 when it is not). */
export function msAhead(rv: string, current: string): number {
  const d = rvTicks(rv) - rvTicks(current);
  return d > 0n ? Math.ceil(Number(d) / 10000) : 0;
}

/**
 * For reads "not older than" `rv`: returns at once when this server's clock has passed it, waits
 * when it is at most `waitMs` ahead (clocks of frontends differ slightly), else throws Too large.
 */
export async function awaitResourceVersion(rv: string | undefined, o: { current: () => string; clock: Clock; waitMs: number }): Promise<void> {
  if (rv === undefined || rv === '0') return;
  const current = o.current();
  const ahead = msAhead(rv, current);
  if (ahead === 0) return;
  if (ahead > o.waitMs) throw tooLargeResourceVersion(rv, current);
  await sleep(o.clock, ahead + 1);
}
