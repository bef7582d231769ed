// Issue #14 item 1: the schema is its own step (stratus-migrate); components wait for the version
// they need instead of racing to create it, and report not-ready meanwhile. Real Cassandra; the
// migration and the frontend are the built processes (dist/).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fetch } from 'undici';
import { createCassandraClient, migrate, MIGRATIONS, readSchemaState, SCHEMA_VERSION, waitForSchema } from '../../store';
import { cassandraContactPoints } from '../helpers/store';
import { REPO, startFrontend, type Frontend } from '../helpers/frontend';
import { until } from '../helpers/wait';

jest.setTimeout(180_000);

const client = createCassandraClient({ contactPoints: cassandraContactPoints() });
const keyspaces: string[] = [];
const freshKeyspace = (tag: string) => {
  const ks = `t_migstep_${tag}_${randomBytes(3).toString('hex')}`;
  keyspaces.push(ks);
  return ks;
};

function runMigrate(keyspace: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, STRATUS_KEYSPACE: keyspace, STRATUS_CASSANDRA: cassandraContactPoints().join(',') };
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'dist/api/migrate-main.js'), ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr }));
  });
}

const recorded = async (ks: string) => (await client.execute(`SELECT id FROM ${ks}.schema_migrations`)).rows.map((r) => r['id'] as number).sort((a, b) => a - b);
const tables = async (ks: string) => (await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [ks])).rows.map((r) => r['table_name'] as string);

afterAll(async () => {
  for (const ks of keyspaces) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
  await client.shutdown();
});

test('SCHEMA_VERSION is the highest migration id', () => {
  expect(SCHEMA_VERSION).toBe(Math.max(...MIGRATIONS.map((m) => m.id)));
});

test('waitForSchema waits on an empty keyspace (saying what to run), creates nothing, and resolves once migrate() has run', async () => {
  const ks = freshKeyspace('wait');
  const said: string[] = [];
  // Bounded: nothing migrated, so it gives up after the timeout, having created nothing.
  await expect(waitForSchema({ client, keyspace: ks, timeoutMs: 1500, onWait: (why) => said.push(why) })).rejects.toThrow(`waiting for schema version ${SCHEMA_VERSION} (found 0)`);
  expect(said[0]).toBe(`waiting for schema version ${SCHEMA_VERSION} (found 0): run \`npm run migrate\` / stratus-migrate`);
  expect((await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks])).rowLength).toBe(0);

  const waiting = waitForSchema({ client, keyspace: ks, maxDelayMs: 200 });
  const applied = await migrate({ client, keyspace: ks });
  expect(applied).toEqual(MIGRATIONS.map((m) => m.id));
  await expect(waiting).resolves.toEqual({ version: SCHEMA_VERSION, missing: [] });
});

test('stratus-migrate applies every migration, and a second run has nothing to do', async () => {
  const ks = freshKeyspace('proc');
  const first = await runMigrate(ks);
  expect(first).toMatchObject({ code: 0 });
  expect(first.stdout).toContain('applied migration 1: ');
  expect(first.stdout).toContain(`keyspace ${ks}: schema at version ${SCHEMA_VERSION} (${MIGRATIONS.length} migrations applied)`);
  expect(await recorded(ks)).toEqual(MIGRATIONS.map((m) => m.id));
  expect(await readSchemaState(client, ks)).toEqual({ version: SCHEMA_VERSION, missing: [] });

  const second = await runMigrate(ks);
  expect(second.code).toBe(0);
  expect(second.stdout.trim()).toBe(`keyspace ${ks}: schema at version ${SCHEMA_VERSION}, nothing to do`);
});

test('two stratus-migrate runs at once on a fresh keyspace both succeed and the schema is complete', async () => {
  const ks = freshKeyspace('race');
  const [a, b] = await Promise.all([runMigrate(ks), runMigrate(ks)]);
  expect([a.code, b.code]).toEqual([0, 0]);
  expect(await recorded(ks)).toEqual(MIGRATIONS.map((m) => m.id));
  expect(await tables(ks)).toEqual(expect.arrayContaining(['objects', 'feed', 'settings', 'field_index', 'host_leases', 'tokens', 'cluster_secrets', 'events', 'schema_migrations', 'schema_lock']));
});

test('stratus-migrate rejects a bad setting with a line naming it, and gives up on an unreachable Cassandra within --timeout', async () => {
  const bad = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'dist/api/migrate-main.js')], { env: { ...process.env, STRATUS_MIGRATE_TIMEOUT_SEC: 'soon' } }, (err, _o, stderr) =>
      resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }));
  });
  expect(bad).toEqual({ code: 2, stderr: 'stratus-migrate: STRATUS_MIGRATE_TIMEOUT_SEC must be a non-negative integer, got "soon"\n' });

  const env = { ...process.env, STRATUS_KEYSPACE: 'unused', STRATUS_CASSANDRA: '127.0.0.1:9' };
  const gone = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'dist/api/migrate-main.js'), '--timeout', '2'], { env }, (err, _o, stderr) =>
      resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }));
  });
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/Cassandra at 127\.0\.0\.1:9 not ready \(no Cassandra host answered \(127\.0\.0\.1:9: connect ECONNREFUSED.*\); retrying in/);
  expect(gone.stderr.trim().split('\n').pop()).toMatch(/^stratus-migrate: failed: no Cassandra host answered/);
});

describe('a frontend started before the migration', () => {
  let fe: Frontend;
  afterAll(async () => {
    await fe?.close();
  });

  test('answers /healthz 200 and /readyz 503 (waiting for the schema) until stratus-migrate runs, then becomes ready', async () => {
    fe = await startFrontend('migwait', { STRATUS_LOG_LEVEL: 'error' }, { migrate: false });
    const readyz = async () => {
      const r = await fetch(`${fe.url}/readyz`);
      return { status: r.status, text: await r.text() };
    };
    const waiting = await until('/readyz saying the frontend waits for the schema',
      () => readyz().then((r) => r.text.includes('waiting for schema') && r, () => undefined), { timeoutMs: 30_000, everyMs: 100 });
    expect(waiting).toEqual({ status: 503, text: `starting: waiting for schema version ${SCHEMA_VERSION} (found 0): run \`npm run migrate\` / stratus-migrate` });
    expect((await fetch(`${fe.url}/healthz`)).status).toBe(200);
    const api = await fetch(`${fe.url}/apis`);
    expect(api.status).toBe(503);
    expect(await api.json()).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    // It keeps waiting (and created nothing) until the migration step runs.
    expect((await readyz()).status).toBe(503);
    expect(await tables(fe.keyspace)).toEqual([]);

    expect((await runMigrate(fe.keyspace)).code).toBe(0);
    await until('the frontend ready after the migration', async () => (await readyz()).status === 200, { timeoutMs: 30_000, everyMs: 200 });
    expect(fe.proc.exitCode).toBeNull();
  });

  test('/readyz is 503 naming LOCAL_QUORUM while the keyspace cannot reach quorum (replication 3 in a one-node datacenter), 200 again at replication 1', async () => {
    const status = async () => {
      const r = await fetch(`${fe.url}/readyz`);
      return { status: r.status, text: await r.text() };
    };
    expect((await status()).status).toBe(200);
    // Named per datacenter: 'replication_factor': 3 would be capped to the one node there.
    await client.execute(`ALTER KEYSPACE ${fe.keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}`);
    const down = await until('/readyz 503 at replication 3', async () => { const s = await status(); return s.status === 503 && s; }, { timeoutMs: 20_000, everyMs: 200 });
    expect(down.text).toMatch(/Cassandra cannot answer at LOCAL_QUORUM: .*(Cannot achieve consistency level LOCAL_QUORUM|Not enough replicas)/i);
    await client.execute(`ALTER KEYSPACE ${fe.keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`);
    await until('/readyz 200 at replication 1', async () => (await status()).status === 200, { timeoutMs: 20_000, everyMs: 200 });
  });
});
