// Tokens minted with a token die with it and never outlive it; the failed-authentication limit is
// keyed on what was presented, so a valid token works from an address that sends bad ones.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { openSiblingApi, openTestApi, API, type TestApi } from '../helpers/api';

let api: TestApi;

beforeAll(async () => {
  api = await openTestApi('tokline');
});
afterAll(async () => api.close());

const whoami = (token: string) => api.as(token).get('/auth/v1/whoami');
const mint = (token: string, ttl: string) => api.as(token).post('/auth/v1/tokens').send({ ttl });
const tokenRows = async (user: string) =>
  (await api.client.execute(`SELECT id, parent FROM ${api.keyspace}.tokens_by_user WHERE user = ?`, [user])).rows.map((r) => ({ id: r['id'], parent: r['parent'] ?? undefined }));
const adminTokenOf = async (id: string) => (await api.req.get('/admin/v1/tokens').expect(200)).body.items.find((t: any) => t.id === id);

describe('a token minted with a token', () => {
  test('never outlives it: its expiry is capped at the parent\'s (with a Warning), and it records its parent', async () => {
    const parent = await api.tokenFor('mia');
    const parentId = (await whoami(parent).expect(200)).body.tokenId;
    const parentExpiry = Date.parse((await adminTokenOf(parentId)).expiresAt);
    const r = await mint(parent, '30d').expect(201);
    expect(r.body).toMatchObject({ kind: 'Token', user: 'mia', parent: parentId });
    expect(Date.parse(r.body.expiresAt)).toBeLessThanOrEqual(parentExpiry);
    expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    expect(r.headers['warning']).toMatch(/^299 - "the token expires at .*, with the token that requested it"$/);
    // A shorter lifetime is kept as asked, without a warning.
    const short = await mint(parent, '10m').expect(201);
    expect(Date.parse(short.body.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    expect(short.headers['warning']).toBeUndefined();
    // A grandchild is capped by the whole chain.
    const grand = await mint(short.body.token, '30d').expect(201);
    expect(Date.parse(grand.body.expiresAt)).toBeLessThanOrEqual(Date.parse(short.body.expiresAt));
    expect(grand.body.parent).toBe(short.body.id);
  });

  test('is revoked with its parent, transitively, also when the parent logs out; the parent survives a child', async () => {
    const root = await api.tokenFor('noah');
    const rootId = (await whoami(root).expect(200)).body.tokenId;
    const child = (await mint(root, '2h').expect(201)).body;
    const grand = (await mint(child.token, '1h').expect(201)).body;
    const other = (await mint(root, '1h').expect(201)).body;
    // Used once, so this frontend has them cached: revocation must reach its cache too.
    for (const t of [child.token, grand.token, other.token]) await whoami(t).expect(200);
    // Revoking a leaf leaves its ancestors working.
    await api.req.delete(`/admin/v1/tokens/${other.id}`).expect(200);
    expect((await whoami(other.token)).status).toBe(401);
    await whoami(root).expect(200);
    // Revoking the root (the administrator's revoke) takes its whole line.
    await api.req.delete(`/admin/v1/tokens/${rootId}`).expect(200);
    for (const t of [root, child.token, grand.token]) expect((await whoami(t)).status).toBe(401);
    expect(await tokenRows('noah')).toEqual([]);

    // Logout (DELETE /auth/v1/tokens/self) does the same.
    const again = await api.tokenFor('noah');
    const kid = (await mint(again, '1h').expect(201)).body;
    await whoami(kid.token).expect(200);
    await api.as(again).delete('/auth/v1/tokens/self').expect(200);
    expect((await whoami(kid.token)).status).toBe(401);
    expect(await tokenRows('noah')).toEqual([]);
  });

  test('cannot be minted from a parent that is gone, and mints racing the revocation leave nothing behind', async () => {
    await expect(api.security.tokens.issueToken({ user: 'olga', source: 'local', ttlSec: 3600, parent: 'abcdefabcdef' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await tokenRows('olga')).toEqual([]);
    for (let round = 0; round < 10; round++) {
      const root = await api.tokenFor('olga');
      const rootId = (await whoami(root).expect(200)).body.tokenId;
      const mints = Array.from({ length: 4 }, (_, i) => new Promise((r) => setTimeout(r, i * 3)).then(() => mint(root, '1h')));
      await new Promise((r) => setTimeout(r, round));
      await api.req.delete(`/admin/v1/tokens/${rootId}`).expect(200);
      const codes = (await Promise.all(mints)).map((r) => r.status);
      expect(codes.every((c) => c === 201 || c === 401)).toBe(true);
      expect(await tokenRows('olga')).toEqual([]);
    }
  });

  test('tokens an administrator issues are the user\'s own: revoking the administrator\'s token leaves them', async () => {
    const adminTok = await api.tokenFor('root2', ['stratus:admins']);
    const issued = (await api.as(adminTok).post('/admin/v1/tokens').send({ user: 'mia', ttl: '2h' }).expect(201)).body;
    expect(issued.parent).toBeUndefined();
    await api.as(adminTok).delete('/auth/v1/tokens/self').expect(200);
    await whoami(issued.token).expect(200);
  });
});

/** A GET from a given loopback address (127.0.0.0/8 all reach the server), so tests have several clients. */
function getFrom(localAddress: string, url: string, authorization: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { localAddress, headers: { authorization } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    }).on('error', reject);
  });
}
const badToken = () => `stratus_${randomBytes(32).toString('base64url')}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the failed-authentication limit', () => {
  test('a valid token works from an address that sent 60 bad ones, while the bad ones get 429', async () => {
    const limited = await openSiblingApi(api, { auth: { authFailureQps: 0.05, authFailureBurst: 50 } });
    try {
      const good = await api.tokenFor('pia');
      const codes: number[] = [];
      for (let i = 0; i < 60; i++) codes.push((await limited.as(badToken()).get('/auth/v1/whoami')).status);
      expect(codes.filter((c) => c === 401)).toHaveLength(50);
      expect(codes.slice(50)).toEqual(Array(10).fill(429));
      const over = await limited.as(badToken()).get(`${API}/virtualmachines`).expect(429);
      expect(over.body).toMatchObject({ kind: 'Status', code: 429, reason: 'TooManyRequests' });
      expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await limited.as(good).get('/auth/v1/whoami').expect(200)).body.user).toBe('pia');
      await limited.as(good).get(`${API}/virtualmachines`).expect(200);
      await limited.as(badToken()).get('/auth/v1/whoami').expect(429);
    } finally {
      await limited.close();
    }
  });

  test('the same bad token is refused before it is checked, from any address; other addresses are not slowed by it', async () => {
    const limited = await openSiblingApi(api, { auth: { authFailureQps: 0.05, authFailureBurst: 3 } });
    try {
      const stale = `Bearer ${badToken()}`;
      for (let i = 0; i < 3; i++) expect((await getFrom('127.0.0.2', `${limited.url}/auth/v1/whoami`, stale)).status).toBe(401);
      expect((await getFrom('127.0.0.2', `${limited.url}/auth/v1/whoami`, stale)).status).toBe(429);
      // Elsewhere, the same token is still refused unchecked; a different bad one is an ordinary 401.
      const elsewhere = await getFrom('127.0.0.3', `${limited.url}/auth/v1/whoami`, stale);
      expect(elsewhere).toMatchObject({ status: 429, retryAfter: expect.any(String) });
      expect((await getFrom('127.0.0.3', `${limited.url}/auth/v1/whoami`, `Bearer ${badToken()}`)).status).toBe(401);
    } finally {
      await limited.close();
    }
  });

  test('passwords are limited per user name and per address before they are checked; tokens from that address still work', async () => {
    const limited = await openSiblingApi(api, { auth: { authFailureQps: 0.05, authFailureBurst: 3 } });
    try {
      const good = await api.tokenFor('quinn');
      for (let i = 0; i < 3; i++) expect((await getFrom('127.0.0.4', `${limited.url}/auth/v1/whoami`, basic('bob', `guess-${i}`))).status).toBe(401);
      // bob's password from another address: refused unchecked (per user name).
      expect((await getFrom('127.0.0.5', `${limited.url}/auth/v1/whoami`, basic('bob', 'another'))).status).toBe(429);
      // Another user's password from the guessing address: refused unchecked (per address).
      expect((await getFrom('127.0.0.4', `${limited.url}/auth/v1/whoami`, basic('carol', 'x'))).status).toBe(429);
      // A valid token from the guessing address works.
      expect((await getFrom('127.0.0.4', `${limited.url}/auth/v1/whoami`, `Bearer ${good}`)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
