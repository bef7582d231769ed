// The local cloud's Cassandra settings (scripts/up-env.sh, sourced by `npm run up` and `npm run down`):
// authentication on unless explicitly switched off, and a node of its own apart from the test node.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
const STATE = '/tmp/stratus-up-env-test';
const VARS = ['STRATUS_CASSANDRA_AUTH', 'STRATUS_CASSANDRA_ADDR', 'STRATUS_CASSANDRA_DATA', 'STRATUS_CASSANDRA', 'CREDS'];

/** Sources up-env.sh in bash with only `env` (no inherited STRATUS_*) and returns what it set. */
function upEnv(env: Record<string, string> = {}, names = VARS): { code: number; vars: Record<string, string>; stderr: string } {
  const script = `REPO=${JSON.stringify(REPO)}; . scripts/up-env.sh; ${names.map((v) => `echo "${v}=\${${v}:-}"`).join('; ')}`;
  const r = spawnSync('bash', ['-c', script], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STRATUS_STATE_DIR: STATE, ...env } });
  const vars = Object.fromEntries(r.stdout.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { code: r.status ?? -1, vars, stderr: r.stderr };
}

describe('npm run up: Cassandra settings (scripts/up-env.sh)', () => {
  test('authentication is on by default, on a node of its own (not the test node 127.0.0.1:9042 on .cassandra/data)', () => {
    const r = upEnv();
    expect(r.code).toBe(0);
    expect(r.vars).toEqual({
      STRATUS_CASSANDRA_AUTH: '1',
      STRATUS_CASSANDRA_ADDR: '127.0.0.10',
      STRATUS_CASSANDRA_DATA: `${STATE}/cassandra-data`,
      STRATUS_CASSANDRA: '127.0.0.10:9042',
      CREDS: `${STATE}/cassandra`,
    });
    expect(upEnv({ STRATUS_CASSANDRA_AUTH: '' }).vars.STRATUS_CASSANDRA_AUTH).toBe('1'); // empty is unset: the default
  });

  test('STRATUS_CASSANDRA_AUTH=0 is the explicit development switch; the address and contact points can be chosen', () => {
    const r = upEnv({ STRATUS_CASSANDRA_AUTH: '0', STRATUS_CASSANDRA_ADDR: '127.0.0.20', STRATUS_CASSANDRA_PORT: '9142' });
    expect(r.code).toBe(0);
    expect(r.vars).toMatchObject({ STRATUS_CASSANDRA_AUTH: '0', STRATUS_CASSANDRA: '127.0.0.20:9142' });
    expect(upEnv({ STRATUS_CASSANDRA: '10.0.0.1:9042,10.0.0.2:9042' }).vars.STRATUS_CASSANDRA).toBe('10.0.0.1:9042,10.0.0.2:9042');
  });

  test.each(['true', 'yes', 'off'])('STRATUS_CASSANDRA_AUTH=%p is refused rather than read as "off"', (value) => {
    const r = upEnv({ STRATUS_CASSANDRA_AUTH: value });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/STRATUS_CASSANDRA_AUTH must be 1 .* or 0/);
    const node = spawnSync('bash', [path.join(REPO, 'scripts/cassandra.sh'), 'status'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STRATUS_CASSANDRA_AUTH: value } });
    expect(node.status).toBe(2);
    expect(node.stderr).toMatch(/STRATUS_CASSANDRA_AUTH must be 0 or 1/);
  });
});

describe('npm run up -- --cluster: the local cluster (scripts/up-env.sh)', () => {
  const CLUSTER_VARS = ['STRATUS_CLUSTER', 'STRATUS_CASSANDRA_NODES', 'STRATUS_CASSANDRA', 'STRATUS_REPLICATION', 'FRONTENDS', 'CONTROLLERS', 'AGENTS', 'API_PORT'];

  test('three nodes on 127.0.0.10-12, all of them contact points, replication 3, two frontends, controllers and agents', () => {
    const r = upEnv({ STRATUS_CLUSTER: '1' }, CLUSTER_VARS);
    expect(r.code).toBe(0);
    expect(r.vars).toEqual({
      STRATUS_CLUSTER: '1', STRATUS_CASSANDRA_NODES: '3', STRATUS_CASSANDRA: '127.0.0.10:9042,127.0.0.11:9042,127.0.0.12:9042',
      STRATUS_REPLICATION: '3', FRONTENDS: '2', CONTROLLERS: '2', AGENTS: '2', API_PORT: '6443',
    });
    expect(upEnv({ STRATUS_CLUSTER: '1', STRATUS_CASSANDRA_ADDR: '127.0.0.1' }, CLUSTER_VARS).vars.STRATUS_CASSANDRA).toBe('127.0.0.1:9042,127.0.0.2:9042,127.0.0.3:9042');
    expect(upEnv({ STRATUS_CLUSTER: '1', STRATUS_FRONTENDS: '4' }, CLUSTER_VARS).vars.FRONTENDS).toBe('4');
  });

  test('single mode is one of each, on one node', () => {
    expect(upEnv({}, CLUSTER_VARS).vars).toEqual({
      STRATUS_CLUSTER: '0', STRATUS_CASSANDRA_NODES: '1', STRATUS_CASSANDRA: '127.0.0.10:9042', STRATUS_REPLICATION: '', FRONTENDS: '1', CONTROLLERS: '1', AGENTS: '1', API_PORT: '6443',
    });
  });

  test.each([
    [{ STRATUS_CLUSTER: 'yes' }, /STRATUS_CLUSTER must be 1 .* or 0/],
    [{ STRATUS_CLUSTER: '1', STRATUS_FRONTENDS: 'two' }, /STRATUS_FRONTENDS must be a number from 1 to 9, got 'two'/],
    [{ STRATUS_CLUSTER: '1', STRATUS_CASSANDRA_NODES: '0' }, /STRATUS_CASSANDRA_NODES must be a number from 1 to 9/],
    [{ STRATUS_CASSANDRA_NODES: '3' }, /STRATUS_CASSANDRA_NODES=3 needs cluster mode: npm run up -- --cluster/],
    [{ STRATUS_API_PORT: '70000' }, /STRATUS_API_PORT must be a port number/],
  ])('%p is refused with a message naming the variable', (env, message) => {
    const r = upEnv(env as Record<string, string>, CLUSTER_VARS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('an unknown argument of npm run up is a usage error', () => {
    const r = spawnSync('bash', [path.join(REPO, 'scripts/up.sh'), '--clutser'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', STRATUS_STATE_DIR: STATE } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown argument '--clutser'");
    expect(r.stderr).toContain('usage: npm run up [-- --cluster] [--frontends N]');
  });
});
