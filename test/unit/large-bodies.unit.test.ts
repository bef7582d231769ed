// The large-body gate (api/middleware/large-bodies.ts) on a real Koa server: requests with large
// bodies are served a few at a time, a short queue waits, the rest get 429 with Retry-After;
// small bodies are never held back.
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { largeBodyGate } from '../../api/middleware/large-bodies';
import { errorMiddleware } from '../../api/middleware/errors';

let server: Server;
let url: string;
let inFlight = 0;
let maxInFlight = 0;
let release: () => void = () => undefined;
let gate = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  const app = new Koa();
  app.use(errorMiddleware());
  app.use(largeBodyGate({ thresholdBytes: 1024, concurrent: 2, queue: 3 }));
  app.use(async (ctx) => {
    if (ctx.get('Content-Length') !== '10') {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await gate;
      inFlight--;
    }
    ctx.body = { ok: true };
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise((r) => server.close(r)));

test('at most 2 large-body requests run at once, 3 wait, the others get 429 with Retry-After; small bodies pass meanwhile', async () => {
  const big = 'x'.repeat(4096);
  const answers = Array.from({ length: 8 }, () => fetch(url, { method: 'POST', body: big, headers: { 'Content-Type': 'application/json' } }));
  // let the eight reach the server: 2 run, 3 queue, 3 are refused at once
  const refused = await Promise.all(answers.slice(5));
  for (const r of refused) {
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await r.json()).toMatchObject({ kind: 'Status', reason: 'TooManyRequests' });
  }
  const small = await fetch(url, { method: 'POST', body: '0123456789' });
  expect(small.status).toBe(200);
  release();
  const served = await Promise.all(answers.slice(0, 5));
  expect(served.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  expect(maxInFlight).toBe(2);
  gate = new Promise<void>((r) => (release = r));
});
