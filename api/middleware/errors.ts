// The one place where thrown errors become HTTP responses (Kubernetes Status objects); a 500 is a
// bug, logged with its stack and the request id that the answer names.

import type { Context, Next } from 'koa';
import { ErrorCode, isStratusError, ServiceUnavailableError } from '../../errors';
import { isDatabaseUnavailable } from '../../store/unavailable';
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
    } catch (thrown) {
      // Cassandra unavailable for now (a node died mid-request, too few replicas): 503, retry.
      const err = isDatabaseUnavailable(thrown)
        ? Object.assign(new ServiceUnavailableError(`the database could not answer: ${(thrown as Error).message}; retry`), { cause: thrown })
        : thrown;
      const status = statusFromError(err);
      const unexpected = !isStratusError(err) || !err.expose;
      if (unexpected && status.code >= 500) {
        // A bug: logged with its stack under the request id, which the answer names (as X-Request-Id does).
        const id = String(ctx.state.requestId ?? ctx.response.get('X-Request-Id') ?? '');
        ctx.state.log?.error({ err, requestId: id }, 'request failed');
        if (id) status.message = `${status.message} (request id ${id})`;
      } else if (unexpected) {
        ctx.state.log?.warn({ err }, 'request refused');
      }
      if (ctx.headerSent) return;
      if (status.details?.retryAfterSeconds) ctx.set('Retry-After', String(status.details.retryAfterSeconds));
      else if (err !== thrown) ctx.set('Retry-After', '1');
      ctx.status = status.code;
      sendObject(ctx, status);
    }
  };
}
