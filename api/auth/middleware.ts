// The security middleware of the Koa app: authentication (failed attempts limited per credential
// presented and per address), the per-user rate limit, and the audit record of every mutating request
// and of every console opened.

import { createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { TooManyRequestsError, ErrorCode, hasCode } from '../../errors';
import type { AuthenticatorChain } from './authenticator';
import type { AuditLog } from './audit-log';
import { parseAuthorization, type Credentials } from './credentials';
import type { UserInfo } from './identity';
import type { RateLimiter } from './rate-limiter';
import { systemClock, type Clock } from '../../runtime';

/** Paths anyone may read: liveness, readiness and the version (as Kubernetes' public-info-viewer). */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/healthz', '/livez', '/readyz', '/version']);

const MUTATING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** GETs audited as well: opening a VM's console or VNC display (a shell in it, as Kubernetes audits pods/exec). */
const AUDITED_GET = /\/virtualmachines\/[^/]+\/(console|vnc)\/?$/;

export interface AuthenticationMiddlewareOptions {
  chain: AuthenticatorChain;
  /** per user */
  users: RateLimiter;
  /** failed authentications, keyed per credential presented and per client address (failureKeys) */
  failures: RateLimiter;
  logger?: Logger;
}

function tooMany(seconds: number): TooManyRequestsError {
  return new TooManyRequestsError('Too many requests, please try again later.', { retryAfterSeconds: seconds });
}

export function clientAddress(ctx: Context): string {
  return ctx.req.socket.remoteAddress ?? 'unknown';
}

/**
 * The failure-limit buckets of a request: `presented`, what it presented (a token by its hash, a
 * password by its user name, nothing by the address), and `address`. A password can be guessed, so
 * an address over its limit is refused before its password is checked; a token (256 random bits)
 * cannot, so a valid one works whatever its address sent before, and only failures get 429.
 */
export function failureKeys(c: Credentials, addr: string): { presented: string; address: string; guessable: boolean } {
  const address = `addr:${addr}`;
  switch (c.type) {
    case 'bearer': return { presented: `bearer:${createHash('sha256').update(c.token).digest('hex').slice(0, 32)}`, address, guessable: false };
    case 'basic': return { presented: `basic:${c.username.slice(0, 256)}`, address, guessable: true };
    default: return { presented: address, address, guessable: true };
  }
}

export function authenticationMiddleware(o: AuthenticationMiddlewareOptions) {
  return async (ctx: Context, next: Next) => {
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && PUBLIC_PATHS.has(ctx.path)) return next();
    const addr = clientAddress(ctx);
    const credentials = parseAuthorization(ctx.get('Authorization') || undefined);
    const keys = failureKeys(credentials, addr);
    // The same credential failing again and again, or guessing from an address over its limit: not checked.
    const wait = Math.max(o.failures.wait(keys.presented), keys.guessable ? o.failures.wait(keys.address) : 0);
    if (wait > 0) throw tooMany(wait);
    let user: UserInfo;
    try {
      user = await o.chain.authenticate(credentials);
    } catch (err) {
      if (hasCode(err, ErrorCode.Unauthorized)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="stratus"');
        ctx.state.log?.info({ addr }, 'authentication refused');
        if (keys.presented !== keys.address) o.failures.take(keys.presented);
        const over = o.failures.take(keys.address);
        if (over > 0) throw tooMany(over);
      }
      throw err;
    }
    ctx.state.user = user;
    ctx.state.log = ctx.state.log?.child({ user: user.name });
    const limited = o.users.take(user.name);
    if (limited > 0) throw tooMany(limited);
    await next();
  };
}

/** Resource, namespace and name of a Kubernetes-style path (for requests refused before routing). */
export function describePath(path: string): { resource?: string; namespace?: string; name?: string; subresource?: string } {
  const m = /^\/apis\/[^/]+\/[^/]+(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/.exec(path)
    ?? /^\/api\/v1(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return {};
  const clip = (v: string | undefined) => v?.slice(0, 253);
  return { namespace: clip(m[1]), resource: clip(m[2]), name: clip(m[3]), subresource: clip(m[4]) };
}

/** Audit records: outside the error middleware, so the final status code is known. */
export function auditMiddleware(audit: AuditLog, clock: Clock = systemClock) {
  return async (ctx: Context, next: Next) => {
    if (!audit.enabled || !(MUTATING.has(ctx.method) || (ctx.method === 'GET' && AUDITED_GET.test(ctx.path)))) return next();
    const start = clock.now();
    try {
      await next();
    } finally {
      const user = ctx.state.user as UserInfo | undefined;
      const t = ctx.state.target as { kind: { plural: string }; namespace: string; name?: string; subresource?: string } | undefined;
      const a = (ctx.state.audit ?? (t ? undefined : describePath(ctx.path))) as { verb?: string; resource?: string; namespace?: string; name?: string; subresource?: string } | undefined;
      let reason: string | undefined;
      if (ctx.status >= 400 && typeof ctx.body === 'string' && ctx.body.length < 65536) {
        try { reason = (JSON.parse(ctx.body) as { reason?: string }).reason; } catch { /* YAML or text */ }
      }
      const dry = ctx.query['dryRun'];
      audit.record({
        time: start,
        requestId: String(ctx.response.get('X-Request-Id') || ''),
        user: user?.name ?? 'system:anonymous',
        groups: user?.groups ?? ['system:unauthenticated'],
        authenticator: user?.authenticator,
        verb: a?.verb ?? ctx.state.verb ?? ctx.method.toLowerCase(),
        resource: a?.resource ?? t?.kind.plural ?? ctx.path.slice(0, 256),
        namespace: a?.namespace ?? (t?.namespace || undefined),
        name: a?.name ?? t?.name,
        subresource: t?.subresource ?? a?.subresource,
        code: ctx.status,
        reason: typeof reason === 'string' ? reason : undefined,
        dryRun: dry === 'All' || (Array.isArray(dry) && dry.includes('All')),
        sourceIp: clientAddress(ctx),
        userAgent: ctx.get('User-Agent') || undefined,
        latencyMs: clock.now() - start,
      });
    }
  };
}

