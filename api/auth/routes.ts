// HTTP routes of authentication and administration (outside the Kubernetes resource API):
//   GET    /auth/v1/whoami                      who the caller is
//   POST   /auth/v1/tokens                      a system token for the caller (login: e.g. LDAP
//                                               Basic credentials or an OIDC token in, bearer token out;
//                                               with a system token in: a child that dies with it)
//   DELETE /auth/v1/tokens/self                 revokes the token the request carries (logout)
//   POST   /apis/authentication.k8s.io/v1/selfsubjectreviews   `kubectl auth whoami`
//   /admin/v1/users[/NAME], /admin/v1/tokens[/ID], /admin/v1/audit   cluster administrators only

import type Router from '@koa/router';
import type { Context } from 'koa';
import { BadRequestError, ForbiddenError, NotFoundError } from '../../errors';
import { isoSeconds } from '../../kube/time';
import { JSON_TYPES, readBody, sendObject, type BodyLimits } from '../negotiate';
import { successStatus } from '../status';
import type { AuditLog } from './audit-log';
import type { Authorizer } from './authorizer';
import type { UserInfo } from './identity';
import type { TokenAuthenticator } from './token-authenticator';
import { checkName, type TokenRecord, type TokenStore, type UserRecord } from './token-store';
import { systemClock, type Clock } from '../../runtime';

const API_VERSION = 'auth.stratuslab.eu/v1alpha1';

export interface AuthRoutesOptions {
  tokens: TokenStore;
  tokenAuth: TokenAuthenticator;
  authorizer: Authorizer;
  audit: AuditLog;
  /** default and maximum lifetimes of issued tokens, seconds */
  defaultTtlSec: number;
  maxTtlSec: number;
  clock?: Clock;
}

const SMALL: BodyLimits = { maxBytes: 64 * 1024, maxDepth: 8, maxAliases: 0 };
const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds of a lifetime: a number of seconds, or a duration such as 30m, 24h, 7d, 1h30m. */
export function parseTtl(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return Number(v);
    const re = /(\d+)([smhd])/y;
    let total = 0;
    let m: RegExpExecArray | null;
    let pos = 0;
    while ((m = re.exec(v)) !== null) {
      total += Number(m[1]) * UNIT_SEC[m[2]];
      pos = re.lastIndex;
    }
    if (pos === v.length && total > 0) return total;
  }
  throw new BadRequestError(`invalid lifetime ${JSON.stringify(v)}: use seconds or a duration such as 30m, 24h or 7d`);
}

function userOf(ctx: Context): UserInfo {
  return ctx.state.user as UserInfo;
}

async function body(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.get('Content-Length') && !ctx.get('Transfer-Encoding')) return {};
  const b = await readBody(ctx, JSON_TYPES, SMALL);
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new BadRequestError('the request body must be a JSON object');
  return b as Record<string, unknown>;
}

function userView(u: UserRecord): Record<string, unknown> {
  const { version: _version, ...rest } = u;
  return { kind: 'User', apiVersion: API_VERSION, ...rest };
}

function tokenView(t: TokenRecord & { token?: string }): Record<string, unknown> {
  return { kind: 'Token', apiVersion: API_VERSION, ...t };
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadRequestError(`${what} must be a list of strings`);
  return v as string[];
}

function optionalString(v: unknown, what: string, max = 1024): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new BadRequestError(`${what} must be a string of at most ${max} characters`);
  return v;
}

export function mountAuthRoutes(router: Router, o: AuthRoutesOptions): void {
  const clock = o.clock ?? systemClock;
  const ttlOf = (v: unknown): number => {
    const ttl = parseTtl(v) ?? o.defaultTtlSec;
    if (ttl > o.maxTtlSec) throw new BadRequestError(`a token may live at most ${o.maxTtlSec} seconds`);
    return ttl;
  };
  const admin = (ctx: Context, resource: string, verb: string) => {
    const user = userOf(ctx);
    if (!o.authorizer.isAdmin(user)) {
      throw new ForbiddenError(`${resource} is forbidden: User "${user.name}" cannot ${verb} ${resource}: cluster administrators only`);
    }
  };

  router.get('/auth/v1/whoami', (ctx) => {
    const u = userOf(ctx);
    sendObject(ctx, { kind: 'UserInfo', apiVersion: API_VERSION, user: u.name, groups: u.groups, authenticator: u.authenticator, tokenId: u.tokenId, admin: o.authorizer.isAdmin(u) });
  });

  router.post('/apis/authentication.k8s.io/:version/selfsubjectreviews', async (ctx) => {
    const version = ctx.params['version'];
    if (!['v1', 'v1beta1', 'v1alpha1'].includes(version)) throw new NotFoundError('the server could not find the requested resource');
    await body(ctx).catch(() => ({}));
    const u = userOf(ctx);
    ctx.state.audit = { verb: 'create', resource: 'selfsubjectreviews' };
    ctx.status = 201;
    sendObject(ctx, {
      kind: 'SelfSubjectReview', apiVersion: `authentication.k8s.io/${version}`,
      metadata: { creationTimestamp: isoSeconds(clock.now()) },
      status: { userInfo: { username: u.name, groups: u.groups, extra: { 'stratuslab.eu/authenticator': [u.authenticator] } } },
    });
  });

  // Login: exchange whatever authenticated this request for a system token of the same user.
  router.post('/auth/v1/tokens', async (ctx) => {
    const u = userOf(ctx);
    const b = await body(ctx);
    ctx.state.audit = { verb: 'create', resource: 'tokens', name: u.name };
    const source = u.authenticator === 'token' ? (u.source ?? 'local') : u.authenticator;
    // A token vouched for by the directory or the identity provider is not renewed by itself:
    // the user signs in there again, so leaving the directory takes effect when tokens expire.
    if (u.authenticator === 'token' && source !== 'local') {
      throw new ForbiddenError(`tokens of ${source} users are issued only at sign-in: log in again with your ${source === 'ldap' ? 'directory' : 'identity provider'} credentials`);
    }
    // Minted with a system token: a child of it, never outliving it and revoked with it, so a
    // stolen or leaked token cannot be turned into a longer-lived one that survives its revocation.
    const ttlSec = ttlOf(b['ttl']);
    const issued = await o.tokens.issueToken({
      user: u.name, groups: u.groups.filter((g) => g !== 'system:authenticated'), source, ttlSec,
      description: optionalString(b['description'], 'description') ?? `login (${u.authenticator})`, createdBy: u.name,
      parent: u.authenticator === 'token' ? u.tokenId : undefined,
    });
    if (Date.parse(issued.expiresAt) < Date.parse(issued.createdAt) + ttlSec * 1000) {
      ctx.append('Warning', `299 - "the token expires at ${issued.expiresAt}, with the token that requested it"`);
    }
    ctx.status = 201;
    sendObject(ctx, tokenView(issued));
  });

  router.delete('/auth/v1/tokens/self', async (ctx) => {
    const u = userOf(ctx);
    ctx.state.audit = { verb: 'delete', resource: 'tokens', name: u.tokenId };
    if (!u.tokenId) throw new BadRequestError('this request was not authenticated by a system token');
    for (const t of await o.tokens.revokeTree(u.tokenId)) o.tokenAuth.forget({ tokenId: t.id });
    sendObject(ctx, successStatus({ name: u.tokenId, kind: 'tokens' }));
  });

  // ---- administration ----

  router.get('/admin/v1/users', async (ctx) => {
    admin(ctx, 'users', 'list');
    sendObject(ctx, { kind: 'UserList', apiVersion: API_VERSION, items: (await o.tokens.listUsers()).map(userView) });
  });
  router.post('/admin/v1/users', async (ctx) => {
    admin(ctx, 'users', 'create');
    const b = await body(ctx);
    const name = checkName('user', b['name']);
    ctx.state.audit = { verb: 'create', resource: 'users', name };
    const created = await o.tokens.createUser({
      name, groups: stringList(b['groups'], 'groups'), description: optionalString(b['description'], 'description'), createdBy: userOf(ctx).name,
    });
    ctx.status = 201;
    sendObject(ctx, userView(created));
  });
  router.get('/admin/v1/users/:name', async (ctx) => {
    admin(ctx, 'users', 'get');
    const u = await o.tokens.getUser(ctx.params['name']);
    if (!u) throw new NotFoundError(`users "${ctx.params['name']}" not found`, { name: ctx.params['name'], kind: 'users' });
    sendObject(ctx, userView(u));
  });
  router.patch('/admin/v1/users/:name', async (ctx) => {
    admin(ctx, 'users', 'update');
    const name = ctx.params['name'];
    ctx.state.audit = { verb: 'patch', resource: 'users', name };
    const b = await body(ctx);
    if (b['disabled'] !== undefined && typeof b['disabled'] !== 'boolean') throw new BadRequestError('disabled must be true or false');
    const u = await o.tokens.updateUser(name, {
      groups: stringList(b['groups'], 'groups'), disabled: b['disabled'] as boolean | undefined, description: optionalString(b['description'], 'description'),
    });
    o.tokenAuth.forget({ user: name });
    sendObject(ctx, userView(u));
  });
  router.delete('/admin/v1/users/:name', async (ctx) => {
    admin(ctx, 'users', 'delete');
    const name = ctx.params['name'];
    ctx.state.audit = { verb: 'delete', resource: 'users', name };
    await o.tokens.deleteUser(name);
    o.tokenAuth.forget({ user: name });
    sendObject(ctx, successStatus({ name, kind: 'users' }));
  });

  router.get('/admin/v1/tokens', async (ctx) => {
    admin(ctx, 'tokens', 'list');
    const user = typeof ctx.query['user'] === 'string' && ctx.query['user'] !== '' ? ctx.query['user'] : undefined;
    sendObject(ctx, { kind: 'TokenList', apiVersion: API_VERSION, items: (await o.tokens.listTokens(user)).map(tokenView) });
  });
  router.post('/admin/v1/tokens', async (ctx) => {
    admin(ctx, 'tokens', 'create');
    const b = await body(ctx);
    const name = checkName('user', b['user']);
    ctx.state.audit = { verb: 'create', resource: 'tokens', name };
    const u = await o.tokens.getUser(name);
    if (!u) throw new NotFoundError(`users "${name}" not found (create it first: stratus admin user create ${name})`, { name, kind: 'users' });
    if (u.disabled) throw new BadRequestError(`users "${name}" is disabled`);
    const issued = await o.tokens.issueToken({
      user: name, source: 'local', ttlSec: ttlOf(b['ttl']), description: optionalString(b['description'], 'description'), createdBy: userOf(ctx).name,
    });
    ctx.status = 201;
    sendObject(ctx, tokenView(issued));
  });
  router.delete('/admin/v1/tokens/:id', async (ctx) => {
    admin(ctx, 'tokens', 'delete');
    const id = ctx.params['id'];
    ctx.state.audit = { verb: 'delete', resource: 'tokens', name: id };
    const revoked = await o.tokens.revokeTree(id);
    if (revoked.length === 0) throw new NotFoundError(`tokens "${id}" not found`, { name: id, kind: 'tokens' });
    for (const t of revoked) o.tokenAuth.forget({ tokenId: t.id });
    sendObject(ctx, successStatus({ name: id, kind: 'tokens' }));
  });

  router.get('/admin/v1/audit', async (ctx) => {
    admin(ctx, 'audit', 'list');
    const num = (name: string): number | undefined => {
      const v = ctx.query[name];
      if (v === undefined || v === '') return undefined;
      const s = Array.isArray(v) ? v[v.length - 1] : v;
      const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
      if (!Number.isFinite(n)) throw new BadRequestError(`${name}: a time (RFC 3339 or ms since the epoch) or a number`);
      return n;
    };
    const str = (name: string) => (typeof ctx.query[name] === 'string' && ctx.query[name] !== '' ? (ctx.query[name] as string) : undefined);
    const items = await o.audit.query({ since: num('since'), until: num('until'), user: str('user'), namespace: str('namespace'), limit: num('limit') });
    sendObject(ctx, { kind: 'AuditRecordList', apiVersion: API_VERSION, items });
  });
}
