// Watches and resourceVersions as strict as Kubernetes': headers at once and BOOKMARKs or keep-alives
// while idle; a malformed resourceVersion is a 400, one this server has not reached a 504 Too large.
import http from 'node:http';
import { openTestApi, readWatch, API, type TestApi } from '../helpers/api';
import { minTimeUuidAtTicks } from '../../store/rv';

let api: TestApi;
const NS = `${API}/namespaces/rvs`;
const BOOKMARK_MS = 1500;
const KEEPALIVE_MS = 700;

beforeAll(async () => {
  api = await openTestApi('watchrv', { watch: { bookmarkMs: BOOKMARK_MS, keepAliveMs: KEEPALIVE_MS } });
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'rvs' }, spec: {} }).expect(201);
});
afterAll(async () => api.close());

/** A resourceVersion `ms` from now (a timeuuid at that instant). */
const rvIn = (ms: number) => minTimeUuidAtTicks(BigInt(Date.now() + ms) * 10000n);

interface RawWatch { status: number; headersAt: number; chunks: { at: number; text: string }[] }

/** Opens a watch and records when the headers and each chunk arrived, for `forMs`. */
function rawWatch(path: string, forMs: number): Promise<RawWatch> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const out: RawWatch = { status: 0, headersAt: -1, chunks: [] };
    const req = http.get(`${api.url}${path}`, { headers: api.auth }, (res) => {
      out.status = res.statusCode ?? 0;
      out.headersAt = Date.now() - start;
      res.setEncoding('utf8');
      res.on('data', (text: string) => out.chunks.push({ at: Date.now() - start, text }));
    });
    req.on('error', (e) => { if (!String((e as NodeJS.ErrnoException).code).includes('ECONNRESET')) reject(e); });
    setTimeout(() => { req.destroy(); resolve(out); }, forMs);
  });
}

describe('an idle watch', () => {
  test('gets its headers at once, before any event, and a BOOKMARK within the period when it allows bookmarks', async () => {
    const rv = (await api.req.get(`${NS}/volumes`).expect(200)).body.metadata.resourceVersion;
    const w = await rawWatch(`${NS}/volumes?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, BOOKMARK_MS + 2500);
    expect(w.status).toBe(200);
    expect(w.headersAt).toBeGreaterThanOrEqual(0);
    expect(w.chunks.length).toBeGreaterThan(0);
    // The headers came well before the first byte of the body (which is a keep-alive or a bookmark).
    expect(w.chunks[0].at - w.headersAt).toBeGreaterThan(KEEPALIVE_MS / 2);
    const events = w.chunks.map((c) => c.text).join('').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'BOOKMARK', object: { kind: 'Volume', metadata: { resourceVersion: expect.any(String) } } });
    const bookmarkAt = w.chunks.find((c) => c.text.includes('BOOKMARK'))!.at;
    expect(bookmarkAt).toBeLessThan(BOOKMARK_MS + 2000);
  });

  test('without bookmarks gets keep-alive newlines (which watch decoders skip) and nothing else', async () => {
    const w = await rawWatch(`${NS}/volumes?watch=true&resourceVersion=${(await api.req.get(`${NS}/volumes`)).body.metadata.resourceVersion}`, KEEPALIVE_MS * 3 + 500);
    expect(w.status).toBe(200);
    const body = w.chunks.map((c) => c.text).join('');
    expect(body.length).toBeGreaterThanOrEqual(2);
    expect(body.trim()).toBe('');
    expect(w.chunks[0].at).toBeGreaterThanOrEqual(KEEPALIVE_MS - 50);
  });

  test('still delivers events in between, and a client that reads lines sees only the events', async () => {
    const rv = (await api.req.get(`${NS}/volumes`).expect(200)).body.metadata.resourceVersion;
    const w = readWatch(`${api.url}${NS}/volumes?watch=true&resourceVersion=${rv}`, (ev) => ev.some((e) => e.object?.metadata?.name === 'late'), 10_000, api.auth);
    await new Promise((r) => setTimeout(r, KEEPALIVE_MS * 2));
    await api.req.post(`${NS}/volumes`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'late' }, spec: { size: '1Gi' } }).expect(201);
    const { events } = await w;
    expect(events.filter((e) => e.object.metadata.name === 'late').map((e) => e.type)).toEqual(['ADDED']);
  });
});

describe('a malformed resourceVersion', () => {
  const bad = ['garbage', '-1', '12345', '0xff', 'ed553e20-f007-11f1-8080-808080808080x', '00000000-0000-4000-8000-000000000000'];

  test.each(bad)('%s: a watch answers 400 BadRequest naming resourceVersion before any stream', async (rv) => {
    const r = await api.req.get(`${NS}/volumes?watch=true&resourceVersion=${encodeURIComponent(rv)}`).expect(400);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', code: 400, reason: 'BadRequest' });
    expect(r.body.message).toMatch(/^resourceVersion: Invalid value/);
  });

  test('a list and a get answer 400 too (never 500)', async () => {
    await api.req.post(`${NS}/volumes`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'v1' }, spec: { size: '1Gi' } }).expect(201);
    const list = await api.req.get(`${NS}/volumes?resourceVersion=garbage`).expect(400);
    expect(list.body).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest', message: expect.stringMatching(/^resourceVersion: /) });
    const all = await api.req.get(`${API}/volumes?resourceVersion=garbage&watch=1`).expect(400);
    expect(all.body.reason).toBe('BadRequest');
    const get = await api.req.get(`${NS}/volumes/v1?resourceVersion=garbage`).expect(400);
    expect(get.body.message).toMatch(/^resourceVersion: /);
    // The object is untouched.
    await api.req.get(`${NS}/volumes/v1`).expect(200);
  });

  test('"0" and a resourceVersion the server returned are accepted', async () => {
    const list = await api.req.get(`${NS}/volumes?resourceVersion=0`).expect(200);
    await api.req.get(`${NS}/volumes?resourceVersion=${list.body.metadata.resourceVersion}`).expect(200);
    const { status, events } = await readWatch(`${api.url}${NS}/volumes?watch=true&resourceVersion=0`, (ev) => ev.length >= 1, 5000, api.auth);
    expect(status).toBe(200);
    expect(events[0]).toMatchObject({ type: 'ADDED' });
  });
});

describe('a resourceVersion from the future', () => {
  test('a watch gets, quickly, the ERROR event kube-apiserver sends: a 504 Timeout Status with cause ResourceVersionTooLarge', async () => {
    const rv = rvIn(3600_000);
    const started = Date.now();
    const { status, events } = await readWatch(`${api.url}${NS}/volumes?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, (ev) => ev.length >= 1, 5000, api.auth);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'ERROR',
      object: {
        kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 504, reason: 'Timeout',
        message: expect.stringMatching(/^Timeout: Too large resource version: [0-9a-f-]+, current: [0-9a-f-]+$/),
        details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
      },
    });
  });

  test('a list or get answers 504 Timeout with cause ResourceVersionTooLarge and Retry-After, quickly', async () => {
    const started = Date.now();
    const r = await api.req.get(`${NS}/volumes?resourceVersion=${rvIn(3600_000)}`).expect(504);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.body).toMatchObject({
      kind: 'Status', code: 504, reason: 'Timeout',
      details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
    });
    await api.req.get(`${NS}/volumes/v1?resourceVersion=${rvIn(3600_000)}`).expect(504);
  });

  test('one slightly ahead (another frontend\'s clock) is waited for, as kube-apiserver waits for its cache', async () => {
    const started = Date.now();
    const r = await api.req.get(`${NS}/volumes?resourceVersion=${rvIn(800)}`).expect(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(r.body.items.map((v: any) => v.metadata.name)).toContain('v1');
    const rv = rvIn(800);
    const w = readWatch(`${api.url}${NS}/volumes?watch=true&resourceVersion=${rv}`, (ev) => ev.some((e) => e.object?.metadata?.name === 'after'), 10_000, api.auth);
    await new Promise((res) => setTimeout(res, 1200));
    await api.req.post(`${NS}/volumes`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'after' }, spec: { size: '1Gi' } }).expect(201);
    const { events } = await w;
    expect(events.filter((e) => e.type === 'ERROR')).toEqual([]);
    expect(events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'after')).toBe(true);
  });
});
