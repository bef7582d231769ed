// Bounds the frontend's memory under large bodies: requests whose body may exceed a threshold
// take one of a few slots for their whole life (reading, parsing, validation, the write), as
// kube-apiserver bounds requests in flight; past a short queue they get 429 with Retry-After.

import type { Context, Next } from 'koa';
import { Sema } from 'async-sema';
import { TooManyRequestsError } from '../../errors';

export interface LargeBodyGateOptions {
  /** bodies larger than this (or of unknown length) take a slot; default 256 KiB */
  thresholdBytes?: number;
  /** large-body requests served at once; default 2 */
  concurrent?: number;
  /** large-body requests waiting for a slot before more get 429; default 8 */
  queue?: number;
}

/** Koa middleware: at most `concurrent` large-body requests at once, `queue` more waiting. */
export function largeBodyGate(o: LargeBodyGateOptions = {}) {
  const threshold = o.thresholdBytes ?? 256 * 1024;
  const concurrent = o.concurrent ?? 2;
  const queue = o.queue ?? 8;
  const slots = new Sema(concurrent);
  return async (ctx: Context, next: Next): Promise<void> => {
    const length = ctx.get('Content-Length');
    const chunked = !length && /chunked/i.test(ctx.get('Transfer-Encoding'));
    if (!chunked && !(Number(length) > threshold)) return next();
    if (slots.nrWaiting() >= queue) {
      throw new TooManyRequestsError(`too many large requests at once (bodies over ${threshold} bytes): retry shortly`, { retryAfterSeconds: 1 });
    }
    await slots.acquire();
    try {
      await next();
    } finally {
      slots.release();
    }
  };
}
