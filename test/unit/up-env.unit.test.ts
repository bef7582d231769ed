// The local cloud's Cassandra settings (scripts/up-env.sh, sourced by `npm run up` and `npm run down`):
// authentication on unless explicitly switched off, and a node of its own apart from the test node.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
const STATE = '/tmp/stratus-up-env-test';
const VARS = ['STRATUS_CASSANDRA_AUTH', 'STRATUS_CASSANDRA_ADDR', 'STRATUS_CASSANDRA_DATA', 'STRATUS_CASSANDRA', 'CREDS'];

/** Sources up-env.sh in bash with only `env` (no inherited STRATUS_*) and returns what it set. */
function upEnv(env: Record<string, string> = {}): { code: number; vars: Record<string, string>; stderr: string } {
  const script = `REPO=${JSON.stringify(REPO)}; . scripts/up-env.sh; ${VARS.map((v) => `echo "${v}=\${${v}}"`).join('; ')}`;
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
