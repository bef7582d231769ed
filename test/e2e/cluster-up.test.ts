/**
 * `npm run up -- --cluster` as a user runs it (issue #14, item 2): the real scripts/up.sh brings up
 * three Cassandra nodes with authentication, two frontends, two controller replicas and two agents
 * of hollow hosts, in a state folder of its own on 127.0.0.20-22 (never the test node 127.0.0.1
 * nor a developer's cloud on 127.0.0.10), then scripts/down.sh stops all of it.
 * One bring-up for the whole file: it takes minutes on a busy machine.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { Client, auth, policies } from 'cassandra-driver';
import { stratus } from '../helpers/frontend';
import { alive, cassandraPids, pidOf, readEnvFile, runScript, upScriptEnv } from '../helpers/up-rig';

const ADDRS = ['127.0.0.20', '127.0.0.21', '127.0.0.22'];
const API_PORT = 16443; // apart from a developer's 6443; metrics ports likewise below
const FRONTENDS = ['api-1', 'api-2'];
const COMPONENTS = [...FRONTENDS, 'controllers-1', 'controllers-2', 'agent-1', 'agent-2'];

let tmp: string;
let state: string;
let env: NodeJS.ProcessEnv;
let upLog = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-cluster-up-'));
  state = path.join(tmp, 'state');
  env = upScriptEnv({
    STRATUS_STATE_DIR: state,
    STRATUS_CASSANDRA_ADDR: ADDRS[0],
    STRATUS_CASSANDRA_AUTH: '1',
    STRATUS_API_PORT: String(API_PORT),
    STRATUS_CONTROLLERS_METRICS_PORT: '19464',
    STRATUS_AGENT_METRICS_PORT: '19474',
    STRATUS_CONFIG: path.join(tmp, 'config.yaml'),
    STRATUS_UP_BUILD: '0', // the suite runs on the dist/ that `npm test` just built
    HOME: tmp, // nothing of the developer's ~/.ssh or ~/.stratus
  });
});

afterAll(async () => {
  // Whatever happened above: no process or node outlives the test.
  if (state && fs.existsSync(state)) await runScript('down.sh', [], env, 180_000).catch(() => undefined);
  if (tmp && !process.env.STRATUS_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
}, 200_000);

/** A client of one node only (no other host is queried), as the operator role. */
function nodeClient(addr: string): Client {
  const admin = readEnvFile(path.join(state, 'cassandra', 'stratus_admin.env'));
  return new Client({
    contactPoints: [`${addr}:9042`],
    localDataCenter: 'datacenter1',
    authProvider: new auth.PlainTextAuthProvider(admin['STRATUS_CASSANDRA_USER']!, admin['STRATUS_CASSANDRA_PASSWORD']!),
    policies: { loadBalancing: new policies.loadBalancing.AllowListPolicy(new policies.loadBalancing.RoundRobinPolicy(), [`${addr}:9042`]) },
  });
}

async function withNode<T>(addr: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = nodeClient(addr);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.shutdown();
  }
}

/** Every component runs; else the names of those that do not, with the end of their logs. */
function expectAllAlive(): void {
  const dead = COMPONENTS.filter((n) => !alive(pidOf(state, n) ?? -1));
  const logs = dead.map((n) => `--- ${n}.log:\n${fs.readFileSync(path.join(state, 'logs', `${n}.log`), 'utf8').split('\n').slice(-15).join('\n')}`);
  expect({ dead, logs }).toEqual({ dead: [], logs: [] });
}

describe('npm run up -- --cluster, then npm run down', () => {
  test('up --cluster brings the whole cluster up and says so', async () => {
    const r = await runScript('up.sh', ['--cluster'], env, 20 * 60_000);
    upLog = r.stderr;
    if (r.code !== 0) throw new Error(`up.sh --cluster exited ${r.code}:\n${r.stderr.slice(-6000)}`);
    expect(r.stderr).toContain('Stratus is up (cluster mode)');
    expect(r.stderr).toContain('schema migrations (keyspace stratus, replication factor 3)');
    expectAllAlive();
  }, 21 * 60_000);

  test('three Cassandra nodes answer and each lists the other two in system.peers', async () => {
    expect(upLog).not.toBe('');
    for (const addr of ADDRS) {
      const peers = await withNode(addr, async (c) => (await c.execute('SELECT peer FROM system.peers')).rows.map((r) => String(r['peer'])));
      expect(peers.sort()).toEqual(ADDRS.filter((a) => a !== addr));
    }
  }, 60_000);

  test('the Stratus keyspace and system_auth are replicated 3 times', async () => {
    const rf = await withNode(ADDRS[0]!, async (c) => {
      const rs = await c.execute("SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name IN ('stratus', 'system_auth')");
      return Object.fromEntries(rs.rows.map((r) => {
        const repl = r['replication'] as Record<string, string>;
        return [r['keyspace_name'], Number(repl['datacenter1'] ?? repl['replication_factor'])];
      }));
    });
    expect(rf).toEqual({ stratus: 3, system_auth: 3 });
    // every component got all three contact points
    const creds = readEnvFile(path.join(state, 'cassandra', 'stratus_frontend.env'));
    expect(creds['STRATUS_CASSANDRA']).toBe(ADDRS.map((a) => `${a}:9042`).join(','));
  }, 60_000);

  test('both frontends are ready; the CLI config lists both and the kubeconfig has a context per frontend', async () => {
    const servers = [API_PORT, API_PORT + 1].map((p) => `https://127.0.0.1:${p}`);
    const ca = path.join(state, 'pki', 'ca.pem');
    for (const s of servers) {
      const probe = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', ca, `${s}/readyz`], { encoding: 'utf8' });
      expect(`${s} ${probe.stdout}`).toBe(`${s} 200`);
    }
    const config = YAML.parse(fs.readFileSync(env['STRATUS_CONFIG']!, 'utf8'));
    expect(config.servers).toEqual(servers);
    const kube = YAML.parse(fs.readFileSync(path.join(state, 'kubeconfig'), 'utf8'));
    expect(kube.contexts.map((c: { name: string }) => c.name)).toEqual(['stratus-1', 'stratus-2']);
    expect(kube.clusters.map((c: { cluster: { server: string } }) => c.cluster.server)).toEqual(servers);
    expect(kube['current-context']).toBe('stratus-1');
  }, 60_000);

  test('stratus get vm works, and still works after frontend 1 is killed (the CLI fails over)', async () => {
    const cliEnv = { STRATUS_CONFIG: env['STRATUS_CONFIG']! };
    const before = await stratus(['get', 'vm', '-n', 'demo'], cliEnv);
    expect(before.stderr).toBe('');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^NAME/);

    process.kill(pidOf(state, 'api-1')!, 'SIGKILL');
    const after = await stratus(['get', 'vm', '-n', 'demo'], cliEnv);
    expect(after.code).toBe(0);
    const names = (table: string) => table.trim().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(names(after.stdout)).toEqual(names(before.stdout));
  }, 120_000);

  test('up again is harmless: what runs is kept, the killed frontend is started again', async () => {
    const pids = Object.fromEntries(COMPONENTS.map((n) => [n, pidOf(state, n)]));
    const r = await runScript('up.sh', ['--cluster'], env, 10 * 60_000);
    if (r.code !== 0) throw new Error(`up.sh --cluster (again) exited ${r.code}:\n${r.stderr.slice(-4000)}`);
    expect(r.stdout + r.stderr).toContain('cassandra already running');
    for (const n of COMPONENTS.filter((x) => x !== 'api-1')) expect(pidOf(state, n)).toBe(pids[n]);
    expect(pidOf(state, 'api-1')).not.toBe(pids['api-1']);
    expect(alive(pidOf(state, 'api-1')!)).toBe(true);
  }, 11 * 60_000);

  test('up in single mode on the running cluster says what to do instead of colliding', async () => {
    const r = await runScript('up.sh', [], env, 60_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/runs in cluster mode .*stop it first with npm run down/);
  }, 70_000);

  test('down stops every component and all three nodes', async () => {
    const pids = COMPONENTS.map((n) => pidOf(state, n)!);
    const nodes = cassandraPids(state);
    expect(nodes).toHaveLength(3);
    const r = await runScript('down.sh', [], env, 180_000);
    expect(r.code).toBe(0);
    for (const pid of [...pids, ...nodes]) expect(alive(pid)).toBe(false);
    expect(cassandraPids(state)).toEqual([]);
    expect(fs.readdirSync(path.join(state, 'run')).filter((f) => f.endsWith('.pid'))).toEqual([]);
  }, 200_000);
});
