// The one place where thrown errors become HTTP responses (Kubernetes Status objects).

import type { Context, Next } from 'koa';
import { ErrorCode, isStratusError } from '../../errors';
import { statusFromError } from '../status';
import { sendObject } from '../negotiate';

export function errorMiddleware() {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        sendObject(ctx, statusFromError({ code: ErrorCode.NotFound, status: 404, reason: 'NotFound', expose: true, message: 'the server could not find the requested resource' }));
      }
    } catch (err) {
      const status = statusFromError(err);
      if (!isStratusError(err) || !err.expose) ctx.state.log?.error({ err }, 'request failed');
      if (ctx.headerSent) return;
      if (status.details?.retryAfterSeconds) ctx.set('Retry-After', String(status.details.retryAfterSeconds));
      ctx.status = status.code;
      sendObject(ctx, status);
    }
  };
}
