// The real Koa app in-process over a fresh keyspace, plus a listening server for streaming tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../api/app';
import { Validator } from '../../schemas/validate';
import { openTestStore, type TestStore } from './store';

export interface TestApi extends TestStore {
  server: http.Server;
  url: string;
  req: ReturnType<typeof request>;
}

export const API = '/apis/stratuslab.eu/v1alpha1';
export const validator = new Validator();

export async function openTestApi(prefix: string, opts: { maxBytes?: number } = {}): Promise<TestApi> {
  const t = await openTestStore(prefix, { followerGraceMs: 300, followerOverlapMs: 500 });
  const { app } = createApp({
    store: t.store, validator, logger: pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' }),
    limits: { maxBytes: opts.maxBytes ?? 256 * 1024 }, watch: { pollMs: 50, bookmarkMs: 500 },
  });
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...t, server, url, req: request(server),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await t.close();
    },
  };
}

/** Reads newline-delimited JSON events from a watch URL until `until` says stop (or timeout). */
export function readWatch(url: string, until: (events: any[]) => boolean, timeoutMs = 15000, headers: Record<string, string> = {}): Promise<{ status: number; events: any[] }> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    let buf = '';
    const req = http.get(url, { headers }, (res) => {
      const done = () => { clearTimeout(timer); req.destroy(); resolve({ status: res.statusCode ?? 0, events }); };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim()) events.push(JSON.parse(line));
        }
        if (until(events)) done();
      });
      res.on('end', done);
    });
    const timer = setTimeout(() => { req.destroy(); resolve({ status: -1, events }); }, timeoutMs);
    req.on('error', (e) => { if (!(e as any).code?.includes('ECONNRESET')) reject(e); });
  });
}
