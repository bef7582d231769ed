// Authentication: system tokens (expiry, revocation, disabled users), OIDC/JWT against a JWKS
// served over HTTP (issuer, audience, expiry, signature, algorithm), malformed credentials, the
// login exchange, rate limits (429 + Retry-After), the audit log, and what never reaches logs or
// responses (secrets, stack traces, internal names).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type KeyLike } from 'jose';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../api/app';
import { Security } from '../../api/auth/security';
import { openSiblingApi, openTestApi, securityRepositories, testAuthConfig, validator, API, type TestApi } from '../helpers/api';

const V = 'stratuslab.eu/v1alpha1';
const ISSUER = 'https://idp.stratus.test';
let api: TestApi;
let jwks: http.Server;
let key: KeyLike;
let otherKey: KeyLike;
const logLines: string[] = [];

async function jwt(claims: Record<string, unknown>, o: { key?: KeyLike; kid?: string; exp?: string | number; aud?: string; iss?: string; alg?: string } = {}): Promise<string> {
  let j = new SignJWT({ groups: ['devs', 'ops'], ...claims }).setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1' })
    .setIssuer(o.iss ?? ISSUER).setAudience(o.aud ?? 'stratus').setIssuedAt().setExpirationTime(o.exp ?? '10m');
  if (claims['sub']) j = j.setSubject(String(claims['sub']));
  return j.sign(o.key ?? key);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  const pub = await exportJWK(pair.publicKey);
  jwks = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [{ ...pub, kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const sink = new Writable({ write(chunk, _e, cb) { logLines.push(String(chunk)); cb(); } });
  api = await openTestApi('auth', {
    logger: pino({ level: 'debug' }, sink),
    auth: {
      oidc: {
        issuer: ISSUER, audiences: ['stratus'], jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`,
        usernameClaim: 'sub', usernamePrefix: 'oidc:', groupsClaim: 'groups', groupsPrefix: 'oidc:', algorithms: ['RS256', 'ES256'], clockToleranceSec: 5,
      },
    },
  });
}, 60000);
afterAll(async () => {
  await api.close();
  await new Promise((r) => jwks.close(r));
});

const whoami = (auth: string) => api.anon.get('/auth/v1/whoami').set('Authorization', auth);

function expectUnauthorized(r: { status: number; body: any; text: string }) {
  expect(r.status).toBe(401);
  expect(r.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
}

describe('system tokens', () => {
  test('a token authenticates its user with the user\'s current groups', async () => {
    const r = await whoami(`Bearer ${api.token}`).expect(200);
    expect(r.body).toMatchObject({ user: 'admin', authenticator: 'token', admin: true });
    expect(r.body.groups).toEqual(['stratus:admins', 'system:authenticated']);
  });

  test('no credentials, and malformed credentials of every kind, are 401 Unauthorized', async () => {
    expectUnauthorized(await api.anon.get(`${API}/virtualmachines`));
    expectUnauthorized(await api.anon.post(`${API}/namespaces/x/virtualmachines`).send({}));
    for (const h of ['Bearer', 'Bearer ', 'Bearer a b', 'bearer stratus_short', `Bearer stratus_${'A'.repeat(43)}`, `Bearer ${api.token}x`,
      `Bearer ${api.token.slice(0, -1)}`, 'Basic !!!', 'Basic Zm9v', 'Digest username="x"', 'Negotiate abc', 'x'.repeat(10000), `Bearer ${'y'.repeat(15000)}`,
      'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer ${'A'.repeat(100)}.${'B'.repeat(100)}.${'C'.repeat(100)}`]) {
      const r = await whoami(h);
      try {
        expectUnauthorized(r);
      } catch (err) {
        throw new Error(`${h.slice(0, 40)}: ${r.status} ${r.text}`);
      }
    }
    // Larger than Node's header limit: refused before the app sees it, still a 4xx.
    expect((await whoami(`Bearer ${'z'.repeat(20000)}`)).status).toBe(431);
  });

  test('an expired token is refused, also after it was cached', async () => {
    const t = await api.security.tokens.issueToken({ user: 'admin', source: 'local', ttlSec: 1 });
    await whoami(`Bearer ${t.token}`).expect(200);
    await new Promise((r) => setTimeout(r, 1200));
    expectUnauthorized(await whoami(`Bearer ${t.token}`));
  });

  test('a revoked token is refused at once; revoking through the API is audited', async () => {
    const tok = (await api.req.post('/admin/v1/tokens').send({ user: 'admin', ttl: '1h', description: 'to revoke' }).expect(201)).body;
    expect(tok.token).toMatch(/^stratus_[A-Za-z0-9_-]{43}$/);
    await whoami(`Bearer ${tok.token}`).expect(200);
    const list = (await api.req.get('/admin/v1/tokens?user=admin').expect(200)).body.items;
    expect(list.find((t: any) => t.id === tok.id)).toMatchObject({ description: 'to revoke', source: 'local' });
    expect(JSON.stringify(list)).not.toContain(tok.token);
    await api.req.delete(`/admin/v1/tokens/${tok.id}`).expect(200);
    expectUnauthorized(await whoami(`Bearer ${tok.token}`));
    await api.req.delete(`/admin/v1/tokens/${tok.id}`).expect(404);
  });

  test('only the hash of a token is stored', async () => {
    const t = await api.security.tokens.issueToken({ user: 'admin', source: 'local', ttlSec: 60 });
    for (const table of ['tokens', 'token_ids', 'tokens_by_user']) {
      const rs = await api.client.execute(`SELECT * FROM ${api.keyspace}.${table}`);
      expect(JSON.stringify(rs.rows)).not.toContain(t.token.slice(8));
    }
  });

  test('disabling a user refuses their tokens; enabling accepts them again; deleting revokes them', async () => {
    const t = await api.tokenFor('dora');
    await whoami(`Bearer ${t}`).expect(200);
    await api.req.patch('/admin/v1/users/dora').send({ disabled: true }).expect(200);
    expectUnauthorized(await whoami(`Bearer ${t}`));
    await api.req.patch('/admin/v1/users/dora').send({ disabled: false, groups: ['g1'] }).expect(200);
    expect((await whoami(`Bearer ${t}`).expect(200)).body.groups).toEqual(['g1', 'system:authenticated']);
    await api.req.delete('/admin/v1/users/dora').expect(200);
    expectUnauthorized(await whoami(`Bearer ${t}`));
    expect((await api.req.get('/admin/v1/tokens?user=dora')).body.items).toEqual([]);
  });

  test('user and token administration validates its input', async () => {
    await api.req.post('/admin/v1/users').send({ name: 'bad name' }).expect(400);
    await api.req.post('/admin/v1/users').send({ name: 'system:root' }).expect(400);
    await api.req.post('/admin/v1/users').send({ name: 'ok', groups: 'not-a-list' }).expect(400);
    await api.req.post('/admin/v1/users').send({ name: 'twice' }).expect(201);
    await api.req.post('/admin/v1/users').send({ name: 'twice' }).expect(409);
    await api.req.post('/admin/v1/tokens').send({ user: 'nobody-here' }).expect(404);
    await api.req.post('/admin/v1/tokens').send({ user: 'twice', ttl: '1000d' }).expect(400);
    await api.req.post('/admin/v1/tokens').send({ user: 'twice', ttl: 'soon' }).expect(400);
    await api.req.post('/admin/v1/tokens').set('Content-Type', 'text/plain').send('user=twice').expect(415);
  });

  test('login exchanges the current credentials for a new token; logout revokes it', async () => {
    // (The administrator's token lives 1h: a token it mints lives at most as long; see token-lineage.test.ts.)
    const t = (await api.req.post('/auth/v1/tokens').send({ ttl: '30m' }).expect(201)).body;
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(1700_000);
    expect((await whoami(`Bearer ${t.token}`).expect(200)).body.tokenId).toBe(t.id);
    await api.as(t.token).delete('/auth/v1/tokens/self').expect(200);
    expectUnauthorized(await whoami(`Bearer ${t.token}`));
  });

  test('kubectl auth whoami: a SelfSubjectReview', async () => {
    const r = await api.req.post('/apis/authentication.k8s.io/v1/selfsubjectreviews').send({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }).expect(201);
    expect(r.body).toMatchObject({ kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', status: { userInfo: { username: 'admin', groups: ['stratus:admins', 'system:authenticated'] } } });
  });
});

describe('OIDC / JWT', () => {
  test('a valid token maps its claims to a prefixed user and groups, who gets project roles by group', async () => {
    const t = await jwt({ sub: 'u-123' });
    const r = await whoami(`Bearer ${t}`).expect(200);
    expect(r.body).toMatchObject({ user: 'oidc:u-123', authenticator: 'oidc', admin: false });
    expect(r.body.groups).toEqual(['oidc:devs', 'oidc:ops', 'system:authenticated']);
    await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'oidc-proj' }, spec: { members: [{ group: 'oidc:devs', role: 'editor' }] } }).expect(201);
    await api.anon.post(`${API}/namespaces/oidc-proj/virtualmachines`).set('Authorization', `Bearer ${t}`)
      .send({ apiVersion: V, kind: 'VirtualMachine', metadata: { name: 'by-oidc' }, spec: { cpu: 1, memory: '1Gi' } }).expect(201);
    // An IdP group never makes an administrator by its name alone (prefix).
    const sneaky = await jwt({ sub: 'u-9', groups: ['stratus:admins'] });
    expect((await whoami(`Bearer ${sneaky}`).expect(200)).body.admin).toBe(false);
  });

  test('expired, not yet valid, wrong issuer, wrong audience, wrongly signed, unsigned and HMAC-confused tokens are 401', async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    const bad = [
      await jwt({ sub: 'x' }, { exp: past }),
      await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience('stratus').setNotBefore('10m').setExpirationTime('20m').sign(key),
      await jwt({ sub: 'x' }, { iss: 'https://evil.example' }),
      await jwt({ sub: 'x' }, { aud: 'someone-else' }),
      await jwt({ sub: 'x' }, { key: otherKey }),
      await jwt({ sub: 'x' }, { key: otherKey, kid: 'unknown-kid' }),
      new UnsecuredJWT({ sub: 'x' }).setIssuer(ISSUER).setAudience('stratus').setExpirationTime('10m').encode(),
      await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(ISSUER).setAudience('stratus').setExpirationTime('10m').sign(new TextEncoder().encode('k'.repeat(32))),
      await jwt({}),
    ];
    for (const [i, t] of bad.entries()) {
      const r = await whoami(`Bearer ${t}`);
      if (r.status !== 401) throw new Error(`bad token #${i}: ${r.status} ${r.text}`);
      expectUnauthorized(r);
    }
  });

  test('an OIDC login gives a system token that carries the identity and groups', async () => {
    const t = await jwt({ sub: 'u-123' });
    const sys = (await api.anon.post('/auth/v1/tokens').set('Authorization', `Bearer ${t}`).send({ ttl: '1h' }).expect(201)).body;
    expect(sys).toMatchObject({ user: 'oidc:u-123', source: 'oidc' });
    const r = await whoami(`Bearer ${sys.token}`).expect(200);
    expect(r.body).toMatchObject({ user: 'oidc:u-123', authenticator: 'token' });
    expect(r.body.groups).toEqual(['oidc:devs', 'oidc:ops', 'system:authenticated']);
  });
});

describe('rate limits', () => {
  test('a user over the limit gets 429 with Retry-After; other users are not affected', async () => {
    const limited = await openSiblingApi(api, { auth: { rateLimitQps: 1, rateLimitBurst: 3 } });
    try {
      const other = await api.tokenFor('other');
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await limited.req.get(`${API}/virtualmachines`)).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const r = await limited.req.get(`${API}/virtualmachines`).expect(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 1 } });
      await limited.as(other).get(`${API}/virtualmachines`).expect(200);
      await new Promise((res) => setTimeout(res, 1100));
      await limited.req.get(`${API}/virtualmachines`).expect(200);
    } finally {
      await limited.close();
    }
  });

  test('repeated failed authentications from one address are slowed down (429); a good token from it still works', async () => {
    const limited = await openSiblingApi(api, { auth: { authFailureQps: 0.5, authFailureBurst: 3 } });
    try {
      for (let i = 0; i < 3; i++) await limited.anon.get('/auth/v1/whoami').set('Authorization', 'Bearer stratus_nope').expect(401);
      const r = await limited.anon.get('/auth/v1/whoami').set('Authorization', 'Bearer stratus_nope').expect(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await limited.req.get('/auth/v1/whoami').expect(200);
      await limited.anon.get('/healthz').expect(200);
    } finally {
      await limited.close();
    }
  });
});

test('every mutating request is audited (who, what, when, result), reads are not', async () => {
  const viewer = await api.tokenFor('audited-viewer');
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'audited' }, spec: { members: [{ user: 'audited-viewer', role: 'viewer' }] } }).expect(201);
  const body = { apiVersion: V, kind: 'VirtualMachine', metadata: { name: 'au-1' }, spec: { cpu: 1, memory: '1Gi' } };
  const started = Date.now();
  await api.req.post(`${API}/namespaces/audited/virtualmachines`).send(body).expect(201);
  await api.as(viewer).post(`${API}/namespaces/audited/virtualmachines`).send({ ...body, metadata: { name: 'au-2' } }).expect(403);
  await api.anon.delete(`${API}/namespaces/audited/virtualmachines/au-1`).expect(401);
  await api.req.delete(`${API}/namespaces/audited/virtualmachines/au-1?dryRun=All`).expect(200);
  await api.req.get(`${API}/namespaces/audited/virtualmachines/au-1`).expect(200);
  await api.security.audit.flush();
  const items = (await api.req.get(`/admin/v1/audit?namespace=audited&since=${started - 1000}`).expect(200)).body.items;
  const summary = items.map((r: any) => [r.user, r.verb, r.resource, r.name, r.code, r.reason ?? '', r.dryRun]);
  expect(summary).toEqual([
    ['admin', 'delete', 'virtualmachines', 'au-1', 200, '', true],
    ['system:anonymous', 'delete', 'virtualmachines', 'au-1', 401, 'Unauthorized', false],
    ['audited-viewer', 'create', 'virtualmachines', undefined, 403, 'Forbidden', false],
    ['admin', 'create', 'virtualmachines', undefined, 201, '', false],
  ]);
  const anon = (await api.req.get(`/admin/v1/audit?user=system:anonymous&since=${started - 1000}`).expect(200)).body.items;
  expect(anon[0]).toMatchObject({ verb: 'delete', code: 401, namespace: 'audited', sourceIp: '127.0.0.1' });
  expect(items[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(Date.parse(items[0].time)).toBeGreaterThanOrEqual(started - 1000);
});

test('no secrets in logs', async () => {
  const secrets = [api.token.slice(8)];
  const t = await api.tokenFor('logged');
  secrets.push(t.slice(8));
  await api.as(t).get(`${API}/virtualmachines`).expect(200);
  await api.anon.get('/auth/v1/whoami').set('Authorization', `Bearer ${t}x`).expect(401);
  const all = logLines.join('');
  expect(all.length).toBeGreaterThan(1000);
  for (const s of secrets) expect(all).not.toContain(s);
  expect(all).not.toMatch(/authorization/i);
  expect(all).toMatch(/"user":"logged"/);
});

test('an internal failure answers 500 with no stack trace and no internal names', async () => {
  // A frontend whose tables are missing: every token lookup fails inside Cassandra.
  const logger = pino({ level: 'silent' });
  const security = new Security({ repositories: securityRepositories(api.client, 'no_such_keyspace'), store: api.store, config: testAuthConfig(), logger });
  const { app, close } = createApp({ store: api.store, validator, logger, security });
  try {
    const r = await request(app.callback()).get(`${API}/virtualmachines`).set('Authorization', `Bearer stratus_${'A'.repeat(43)}`);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'InternalError', code: 500,
      message: `an internal error occurred; it has been logged (request id ${r.headers['x-request-id']})`,
    });
    expect(r.text).not.toMatch(/no_such_keyspace|cassandra|\.ts:|at /i);
  } finally {
    close();
    await security.close();
  }
});
