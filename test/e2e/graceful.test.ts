// Issue #14 item 3: a frontend process stops cleanly on SIGTERM: the request in flight completes,
// a watch that allows bookmarks ends with a BOOKMARK (a cursor to resume from elsewhere) and then
// the end of the stream, new connections are refused, and the process exits 0 within the grace.
import http from 'node:http';
import net from 'node:net';
import { startFrontend, type Frontend } from '../helpers/frontend';
import { until } from '../helpers/wait';

jest.setTimeout(120_000);

const BASE = '/apis/stratuslab.eu/v1alpha1';
let fe: Frontend;

beforeAll(async () => {
  fe = await startFrontend('graceful', { STRATUS_DRAIN_GRACE_MS: '15000', STRATUS_WATCH_POLL_MS: '100' });
});
afterAll(async () => {
  await fe?.close();
});

test('SIGTERM: the in-flight request gets its 201, the watch ends with a BOOKMARK then EOF, new connections are refused, exit 0', async () => {
  const auth = { authorization: `Bearer ${fe.token}` };
  // A watch of Projects that asked for bookmarks.
  const watch = { lines: [] as string[], ended: false, buf: '' };
  const watchReq = http.get(`${fe.url}${BASE}/projects?watch=1&allowWatchBookmarks=true`, { headers: auth }, (res) => {
    expect(res.statusCode).toBe(200);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      watch.buf += chunk;
      const parts = watch.buf.split('\n');
      watch.buf = parts.pop()!;
      watch.lines.push(...parts.filter((l) => l.trim()));
    });
    res.on('end', () => (watch.ended = true));
  });
  watchReq.on('error', () => undefined);
  await until('the watch listing the default project', () => watch.lines.some((l) => l.includes('"ADDED"')), 20_000);

  // A slow request: its body is half sent when SIGTERM comes.
  const body = JSON.stringify({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'late' }, spec: {} });
  const slow = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(`${fe.url}${BASE}/projects`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 20));
    setTimeout(() => {
      exitedAt.sent = Date.now();
      fe.proc.kill('SIGTERM');
      // The rest of the body once the frontend is draining.
      setTimeout(() => req.end(body.slice(20)), 1000);
    }, 500);
  });
  const exitedAt: { sent?: number; exit?: number; code?: number | null } = {};
  const exited = new Promise<void>((resolve) => fe.proc.once('exit', (code) => {
    exitedAt.exit = Date.now();
    exitedAt.code = code;
    resolve();
  }));

  await until('SIGTERM sent', () => exitedAt.sent, 10_000);
  // The watch ends: a last BOOKMARK with a resourceVersion, then the end of the stream.
  await until('the watch to end', () => watch.ended, 10_000);
  const last = JSON.parse(watch.lines[watch.lines.length - 1]);
  expect(last).toMatchObject({ type: 'BOOKMARK', object: { kind: 'Project', metadata: { resourceVersion: expect.stringMatching(/.+/) } } });

  // New connections are refused while the request in flight finishes.
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(fe.port, '127.0.0.1', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
  expect(refused).toBe('ECONNREFUSED');

  const done = await slow;
  expect(done.status).toBe(201);
  expect(JSON.parse(done.text)).toMatchObject({ kind: 'Project', metadata: { name: 'late' } });

  await exited;
  expect(exitedAt.code).toBe(0);
  expect(exitedAt.exit! - exitedAt.sent!).toBeLessThan(15_000);
});
