// npm run bench:api — 50 concurrent clients against one frontend (its own process) and one local
// Cassandra node: create/get/update/list throughput and latency, an open-loop 200 req/s create run,
// and, in the same run, raw cassandra-driver conditional inserts per second for the ratio.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { createCassandraClient, migrate, ObjectStore } from '../store';
import { closedLoop, openLoop, progress } from './common';

const N = Number(process.env.BENCH_N ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const PORT = Number(process.env.BENCH_PORT ?? 16443);
const contactPoints = (process.env.STRATUS_CASSANDRA ?? '127.0.0.1:9042').split(',');

async function main(): Promise<void> {
  const keyspace = `bench_${randomBytes(3).toString('hex')}`;
  const client = createCassandraClient({ contactPoints });
  await client.connect();
  await migrate({ client, keyspace });

  // Raw conditional inserts, the ceiling the API is compared with.
  progress(`raw conditional inserts x${N}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.raw (k text PRIMARY KEY, v text)`);
  const body = JSON.stringify({ spec: { cpu: 1, memory: '1Gi' }, pad: 'x'.repeat(300) });
  const raw = await closedLoop(N, CONCURRENCY, async (i) => {
    const rs = await client.execute(`INSERT INTO ${keyspace}.raw (k, v) VALUES (?, ?) IF NOT EXISTS`, [`k${i}`, body]);
    if (!rs.wasApplied()) throw new Error('not applied');
  });

  // The object store library alone (feed entry, name index, compare-and-set), no HTTP.
  progress(`store-level creates x${N}`);
  const store = new ObjectStore({ client, keyspace });
  await store.init();
  const storeCreate = await closedLoop(N, CONCURRENCY, async (i) => {
    await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: `lib-${i}`, namespace: 'lib' }, spec: { cpu: 1, memory: '1Gi' } });
  });

  progress(`starting a frontend on 127.0.0.1:${PORT}`);
  const env = { ...process.env, STRATUS_KEYSPACE: keyspace, STRATUS_LISTEN: `127.0.0.1:${PORT}`, STRATUS_LOG_LEVEL: 'warn', STRATUS_TLS_CERT: '', STRATUS_TLS_KEY: '', STRATUS_RATE_LIMIT_QPS: '0' };
  // An administrator's token, made straight in Cassandra as `npm run up` does.
  const token = execFileSync(process.execPath, [path.join(__dirname, '..', 'api', 'auth', 'bootstrap.js')], { env, encoding: 'utf8' }).trim();
  const api = spawn(process.execPath, [...(process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(__dirname, '..', 'api', 'main.js')], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pool = new Pool(`http://127.0.0.1:${PORT}`, { connections: CONCURRENCY });
  try {
    for (let i = 0; ; i++) {
      try {
        const r = await pool.request({ path: '/readyz', method: 'GET' });
        await r.body.text();
        if (r.statusCode === 200) break;
      } catch { /* not yet */ }
      if (i > 200) throw new Error('frontend did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const call = async (method: 'GET' | 'POST' | 'PATCH', p: string, b?: unknown, type = 'application/json') => {
      const r = await pool.request({ path: p, method, body: b === undefined ? undefined : JSON.stringify(b), headers: { 'content-type': type, authorization: `Bearer ${token}` } });
      const text = await r.body.text();
      if (r.statusCode >= 300) throw new Error(`${r.statusCode} ${text}`);
      return text;
    };
    await call('POST', '/apis/stratuslab.eu/v1alpha1/projects', { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'bench' }, spec: {} });
    const base = '/apis/stratuslab.eu/v1alpha1/namespaces/bench/virtualmachines';
    const vm = (name: string) => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, labels: { app: 'bench' } }, spec: { cpu: 1, memory: '1Gi' } });

    // Latency at a steady offered load, measured first: the saturation runs below leave Cassandra
    // with flush and compaction work that would otherwise land in this measurement's tail.
    progress('open loop: warm-up at 100 creates/s for 5 s, then 200 creates/s for 10 s');
    await openLoop(100, 5, async (i) => { await call('POST', base, vm(`warm-${i}`)); });
    const offered = await openLoop(200, 10, async (i) => { await call('POST', base, vm(`open-${i}`)); });

    progress(`API creates x${N}`);
    const create = await closedLoop(N, CONCURRENCY, async (i) => { await call('POST', base, vm(`vm-${i}`)); });
    progress(`API gets x${N}`);
    const get = await closedLoop(N, CONCURRENCY, async (i) => { await call('GET', `${base}/vm-${i}`); });
    progress(`API updates (merge patch) x${N}`);
    const update = await closedLoop(N, CONCURRENCY, async (i) => {
      await call('PATCH', `${base}/vm-${i}`, { spec: { cpu: 2 } }, 'application/merge-patch+json');
    });
    progress('API lists (pages of 100)');
    const list = await closedLoop(200, CONCURRENCY, async () => { await call('GET', `${base}?limit=100`); });

    const result = {
      benchmark: 'api',
      concurrency: CONCURRENCY,
      rawConditionalInserts: raw,
      storeCreates: storeCreate,
      api: { create, get, update, listPage100: list },
      openLoop200PerSecond: offered,
      ratios: {
        apiCreatesPerRawConditionalInsert: Math.round((create.perSecond / raw.perSecond) * 100) / 100,
        storeCreatesPerRawConditionalInsert: Math.round((storeCreate.perSecond / raw.perSecond) * 100) / 100,
      },
      targets: {
        createsAtLeastHalfOfRaw: create.perSecond >= raw.perSecond / 2,
        p99CreateUnder50msAt200PerSecond: offered.p99ms < 50,
      },
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    await pool.close();
    api.kill('SIGTERM');
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client.shutdown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
