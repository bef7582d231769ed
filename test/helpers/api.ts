// The real Koa app in-process over a fresh keyspace, plus a listening server for streaming tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import request from 'supertest';
import { createApp, type AppOptions } from '../../api/app';
import { Security, type SecurityRepositories } from '../../api/auth/security';
import { MetricsStore } from '../../store/samples';
import { EventRepository } from '../../store/events';
import { loadAuthConfig, type AuthConfig } from '../../config/auth';
import { Validator } from '../../schemas/validate';
import { ObjectStore } from '../../store';
import { AuditRepository } from '../../store/audit';
import { LeaseRepository } from '../../store/leases';
import { QuotaRepository } from '../../store/quota';
import { TokenRepository } from '../../store/tokens';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../../store/cluster-secrets';
import { randomBytes } from 'node:crypto';
import { openTestStore, type TestStore } from './store';
import type { Clock } from '../../runtime';

export interface TestApi extends TestStore {
  server: http.Server;
  url: string;
  /** requests as the cluster administrator (a bearer token of user "admin" in stratus:admins) */
  req: ReturnType<typeof request.agent>;
  /** unauthenticated requests */
  anon: ReturnType<typeof request>;
  /** the administrator's token, and its Authorization header (for raw HTTP and watches) */
  token: string;
  auth: Record<string, string>;
  security: Security;
  /** the cluster's console key in this keyspace (as agents read it) */
  consoleKey: Uint8Array;
  /** requests with another bearer token */
  as(token: string): ReturnType<typeof request.agent>;
  /** creates a local user (if missing) and returns a fresh token of theirs */
  tokenFor(user: string, groups?: string[]): Promise<string>;
}

export const API = '/apis/stratuslab.eu/v1alpha1';

/** The store repositories a frontend's Security uses, over one keyspace. */
export function securityRepositories(client: TestStore['client'], keyspace: string): SecurityRepositories {
  const ks = { client, keyspace };
  return { tokens: new TokenRepository(ks), audit: new AuditRepository(ks), quota: new QuotaRepository(ks), quotaLeases: new LeaseRepository({ ...ks, family: 'quota' }) };
}
export const validator = new Validator();

/** Security settings of test apps: no rate limits, no caching of Projects (immediate membership changes). */
export function testAuthConfig(over: Partial<AuthConfig> = {}): AuthConfig {
  return { ...loadAuthConfig({}), rateLimitQps: 0, authFailureQps: 0, projectCacheMs: 0, ...over };
}

export async function openTestApi(prefix: string, opts: { maxBytes?: number; auth?: Partial<AuthConfig>; clock?: Clock; logger?: Logger; watch?: AppOptions['watch'] } = {}): Promise<TestApi> {
  const t = await openTestStore(prefix, { followerGraceMs: 300, followerOverlapMs: 500 });
  const logger = opts.logger ?? pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
  const security = new Security({ repositories: securityRepositories(t.client, t.keyspace), store: t.store, config: testAuthConfig(opts.auth), logger, clock: opts.clock });
  const consoleKey = await new ClusterSecretRepository({ client: t.client, keyspace: t.keyspace }).getOrCreate(CONSOLE_TOKEN_SECRET, () => randomBytes(32));
  const { app, close: closeApp, upgrade } = createApp({
    store: t.store, validator, logger, security, clock: opts.clock, consoleKey,
    limits: { maxBytes: opts.maxBytes ?? 256 * 1024 }, watch: { pollMs: 50, bookmarkMs: 500, ...opts.watch },
    monitoring: new MetricsStore({ client: t.client, keyspace: t.keyspace }),
    events: new EventRepository({ client: t.client, keyspace: t.keyspace }),
  });
  const server = http.createServer(app.callback());
  server.on('upgrade', upgrade);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = await adminToken(security);
  const as = (tok: string) => request.agent(server).set('Authorization', `Bearer ${tok}`);
  return {
    ...t, server, url, consoleKey, req: as(token), anon: request(server), token, auth: { Authorization: `Bearer ${token}` }, security, as,
    async tokenFor(user, groups = []) {
      await security.tokens.createUser({ name: user, groups }).catch((err) => { if (err.code !== 'ALREADY_EXISTS') throw err; });
      return (await security.tokens.issueToken({ user, source: 'local', ttlSec: 3600 })).token;
    },
    async close() {
      closeApp();
      await security.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await t.close();
    },
  };
}

export interface SiblingApi {
  /** its listening address, for raw HTTP */
  url: string;
  req: ReturnType<typeof request.agent>;
  anon: ReturnType<typeof request>;
  security: Security;
  as(token: string): ReturnType<typeof request.agent>;
  close(): Promise<void>;
}

/**
 * Another frontend on the same keyspace (no new keyspace: schema changes are slow): its own
 * object store, security settings, ledger queue and caches, as a second process would have.
 */
export async function openSiblingApi(api: TestApi, opts: { auth?: Partial<AuthConfig>; maxBytes?: number } = {}): Promise<SiblingApi> {
  const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
  const store = new ObjectStore({ client: api.client, keyspace: api.keyspace });
  await store.init();
  const security = new Security({ repositories: securityRepositories(api.client, api.keyspace), store, config: testAuthConfig(opts.auth), logger });
  const { app, close } = createApp({ store, validator, logger, security, watch: { pollMs: 50, bookmarkMs: 500 }, limits: { maxBytes: opts.maxBytes ?? 256 * 1024 } });
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const token = await adminToken(security);
  const as = (tok: string) => request.agent(server).set('Authorization', `Bearer ${tok}`);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, req: as(token), anon: request(server), security, as,
    async close() {
      close();
      await security.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Creates (once) the user "admin" in stratus:admins and returns a new token of theirs. */
export async function adminToken(security: Security): Promise<string> {
  await security.tokens.createUser({ name: 'admin', groups: ['stratus:admins'] }).catch((err) => { if (err.code !== 'ALREADY_EXISTS') throw err; });
  return (await security.tokens.issueToken({ user: 'admin', source: 'local', ttlSec: 3600 })).token;
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
