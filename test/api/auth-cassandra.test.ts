// Cassandra with authentication and authorization on (STRATUS_CASSANDRA_AUTH=1): a second, small
// node on 127.0.0.2 started by this file only (the shared test node stays as it is). The roles
// script creates one role per component with only the grants it needs and disables the default
// superuser; the frontend, the controllers and an agent then run with their own roles, and each
// role is refused what it does not need. Users of Stratus have no Cassandra role at all.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auth, Client, types } from 'cassandra-driver';
import { fetch } from 'undici';
import { freePort, REPO } from '../helpers/frontend';
import { describeIfAvailable } from '../helpers/prerequisites';
import { until } from '../helpers/wait';

const SKIP = process.env.STRATUS_SKIP_CASSANDRA_AUTH === '1';
const ADDR = process.env.STRATUS_AUTH_TEST_ADDR ?? '127.0.0.2';
const KS = 'stratus_authz';
let dir: string;
let creds: string;
const procs: ChildProcess[] = [];

const nodeEnv = () => ({
  ...(process.env as Record<string, string>), STRATUS_CASSANDRA_AUTH: '1', STRATUS_CASSANDRA_ADDR: ADDR, STRATUS_CASSANDRA_DATA: path.join(dir, 'cassandra'),
  STRATUS_CASSANDRA_CLUSTER_NAME: 'stratus-auth-test', STRATUS_CASSANDRA_HEAP: process.env.STRATUS_AUTH_TEST_HEAP ?? '768M', STRATUS_CASSANDRA_START_TIMEOUT: '180',
});
const stratusEnv = (role?: string): Record<string, string> => {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), STRATUS_CASSANDRA: `${ADDR}:9042`, STRATUS_KEYSPACE: KS, STRATUS_CASSANDRA_CREDENTIALS: creds, STRATUS_LOG_LEVEL: 'warn' };
  if (role) {
    const text = fs.readFileSync(path.join(creds, `${role}.env`), 'utf8');
    for (const line of text.trim().split('\n')) {
      const i = line.indexOf('=');
      env[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  return env;
};

function login(user?: string, password?: string): Client {
  return new Client({
    contactPoints: [`${ADDR}:9042`], localDataCenter: 'datacenter1',
    authProvider: user ? new auth.PlainTextAuthProvider(user, password ?? '') : undefined,
    queryOptions: { consistency: types.consistencies.localQuorum, prepare: true },
  });
}

async function as(role: string): Promise<Client> {
  const env = stratusEnv(role);
  const c = login(env['STRATUS_CASSANDRA_USER'], env['STRATUS_CASSANDRA_PASSWORD']);
  await c.connect();
  return c;
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 240_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const d = describeIfAvailable('auth-cassandra.test.ts', SKIP ? 'STRATUS_SKIP_CASSANDRA_AUTH=1 turns off the second Cassandra node it needs' : undefined);

d('Cassandra authentication and per-component roles', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cauth-'));
    creds = path.join(dir, 'creds');
    const start = await run('bash', [path.join(REPO, 'scripts/cassandra.sh'), 'start'], nodeEnv());
    if (start.code !== 0) throw new Error(`second node did not start: ${start.stderr.slice(-2000)}`);
    const roles = await run(process.execPath, [path.join(REPO, 'scripts/cassandra-roles.js')], stratusEnv());
    if (roles.code !== 0) throw new Error(`roles script failed: ${roles.stderr}`);
  }, 300_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await run('bash', [path.join(REPO, 'scripts/cassandra.sh'), 'stop'], nodeEnv());
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('no anonymous access, and the default superuser cassandra/cassandra is disabled', async () => {
    for (const c of [login(), login('cassandra', 'cassandra')]) {
      await expect(c.connect()).rejects.toMatchObject({ name: 'NoHostAvailableError' });
      await c.shutdown();
    }
    for (const role of ['stratus_admin', 'stratus_frontend', 'stratus_controllers', 'stratus_agents']) {
      expect(fs.statSync(path.join(creds, `${role}.env`)).mode & 0o777).toBe(0o600);
    }
  });

  test('each component role may do only what its component needs', async () => {
    const denied = async (c: Client, cql: string, params: unknown[] = []) => {
      const err = await c.execute(cql, params).then(() => undefined, (e) => e);
      if (err?.code !== 0x2100) throw new Error(`not refused as Unauthorized: ${cql} (${err ? err.message : 'it succeeded'})`);
    };
    const fe = await as('stratus_frontend');
    const ctl = await as('stratus_controllers');
    const agent = await as('stratus_agents');
    try {
      for (const c of [fe, ctl, agent]) {
        await c.execute(`SELECT name FROM ${KS}.objects LIMIT 1`);
        await denied(c, `CREATE TABLE ${KS}.evil (k int PRIMARY KEY)`);
        await denied(c, `DROP TABLE ${KS}.objects`);
        await denied(c, `CREATE KEYSPACE evil WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
        await denied(c, `CREATE ROLE evil WITH LOGIN = true AND PASSWORD = 'x'`);
        // (TRUNCATE needs only MODIFY in Cassandra's model, so a role that writes a table may truncate it.)
      }
      await fe.execute(`SELECT hash FROM ${KS}.tokens LIMIT 1`);
      await fe.execute(`INSERT INTO ${KS}.audit_log (hour, shard, ts, user) VALUES (1, 0, now(), 'x')`);
      await denied(fe, `SELECT host FROM ${KS}.host_leases LIMIT 1`);
      await denied(fe, `INSERT INTO ${KS}.usage_hourly (namespace, day, hour, name, uid, host) VALUES ('a', 1, 0, 'n', 'u', 'h')`);
      for (const c of [ctl, agent]) {
        await denied(c, `SELECT hash FROM ${KS}.tokens LIMIT 1`);
        await denied(c, `SELECT name FROM ${KS}.users LIMIT 1`);
        await denied(c, `SELECT user FROM ${KS}.audit_log LIMIT 1`);
        await denied(c, `UPDATE ${KS}.quota_usage SET state = 'x' WHERE project = 'p' AND item = ''`);
      }
      await ctl.execute(`SELECT host FROM ${KS}.host_leases LIMIT 1`);
      await denied(ctl, `INSERT INTO ${KS}.host_leases (host, holder) VALUES ('h', 'me')`);
      await agent.execute(`INSERT INTO ${KS}.host_leases (host, holder) VALUES ('h-test', 'me') IF NOT EXISTS`);
      await agent.execute(`SELECT name FROM ${KS}.vm_samples_latest WHERE namespace = 'x'`);
    } finally {
      await Promise.all([fe.shutdown(), ctl.shutdown(), agent.shutdown()]);
    }
  });

  test('the frontend, the controllers and an agent run with their own roles; a VM gets scheduled', async () => {
    const apiPort = await freePort();
    const metricsPort = await freePort();
    const token = execFileSync(process.execPath, [path.join(REPO, 'dist/api/auth/bootstrap.js')], { env: stratusEnv('stratus_frontend'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const logs: Record<string, string> = { api: '', controllers: '', agent: '' };
    const launch = (name: string, args: string[], env: Record<string, string>) => {
      const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (b) => { logs[name] += b; });
      p.stderr!.on('data', (b) => { logs[name] += b; });
      procs.push(p);
      return p;
    };
    launch('api', [path.join(REPO, 'dist/api/main.js')], { ...stratusEnv('stratus_frontend'), STRATUS_LISTEN: `127.0.0.1:${apiPort}`, STRATUS_TLS_CERT: '', STRATUS_TLS_KEY: '' });
    launch('controllers', [path.join(REPO, 'dist/controllers/main.js')], { ...stratusEnv('stratus_controllers'), STRATUS_CONTROLLERS_METRICS: `127.0.0.1:${metricsPort}` });
    launch('agent', [path.join(REPO, 'dist/agents/main.js'), '--host', 'hv-auth', '--hollow', '1', '--state-dir', path.join(dir, 'agent'), '--heartbeat-ms', '1000'],
      { ...stratusEnv('stratus_agents'), STRATUS_LOG_LEVEL: 'warn' });
    const url = `http://127.0.0.1:${apiPort}`;
    const call = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${url}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return { status: r.status, body: await r.json().catch(() => undefined) as any };
    };
    const logTail = () => Object.entries(logs).map(([name, text]) => `${name}: ${text.slice(-1000)}`).join('\n');
    await until('the frontend ready', () => fetch(`${url}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30_000, everyMs: 250, context: logTail });
    expect((await fetch(`${url}/apis`)).status).toBe(401);
    expect((await call('POST', '/apis/stratuslab.eu/v1alpha1/projects', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'p' }, spec: { quota: { vms: 2 } } })).status).toBe(201);
    expect((await call('POST', '/apis/stratuslab.eu/v1alpha1/namespaces/p/virtualmachines', {
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'vm-1' }, spec: { cpu: 1, memory: '64Mi' },
    })).status).toBe(201);
    const host = await until('p/vm-1 bound to a host', async () => (await call('GET', '/apis/stratuslab.eu/v1alpha1/namespaces/p/virtualmachines/vm-1')).body?.status?.host as string | undefined,
      { timeoutMs: 60_000, everyMs: 500, context: logTail });
    expect(host).toMatch(/^hv-auth/);
    expect((await call('GET', '/apis/stratuslab.eu/v1alpha1/hosts')).body.items.map((h: any) => h.metadata.name)).toEqual([host]);
    for (const [name, text] of Object.entries(logs)) {
      if (/Unauthorized|has no (SELECT|MODIFY)|permission/i.test(text)) throw new Error(`${name} was refused something by Cassandra:\n${text.slice(-3000)}`);
    }
    for (const p of procs) expect(p.exitCode).toBeNull();
  }, 120_000);

  test('running the roles script again changes nothing and keeps the passwords', async () => {
    const before = fs.readFileSync(path.join(creds, 'stratus_frontend.env'), 'utf8');
    const again = await run(process.execPath, [path.join(REPO, 'scripts/cassandra-roles.js')], stratusEnv());
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/logged in as stratus_admin/);
    expect(fs.readFileSync(path.join(creds, 'stratus_frontend.env'), 'utf8')).toBe(before);
    const c = await as('stratus_frontend');
    await c.shutdown();
  }, 60_000);
});
