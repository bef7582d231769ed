// LDAP authentication against a real OpenLDAP server (Debian's slapd, started by scripts/ldap.sh
// on a loopback port with its data in a temporary folder): simple bind as the user, groups from
// groupOfNames and posixGroup, search-then-bind with a service account, and `stratus login`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import YAML from 'yaml';
import type { LdapConfig } from '../../config/auth';
import { LdapAuthenticator } from '../../api/auth/ldap-authenticator';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { freePort, REPO, startFrontend, stratus, type Frontend } from '../helpers/frontend';

const V = 'stratuslab.eu/v1alpha1';
const SUFFIX = 'dc=stratus,dc=test';
let dir: string;
let port: number;
let api: TestApi;
const logLines: string[] = [];

function ldapEnv(): Record<string, string> {
  return { ...(process.env as Record<string, string>), STRATUS_LDAP_DIR: dir, STRATUS_LDAP_PORT: String(port) };
}

function config(over: Partial<LdapConfig> = {}): LdapConfig {
  return {
    url: `ldap://127.0.0.1:${port}`, userDnTemplate: `uid={username},ou=people,${SUFFIX}`, userFilter: '(uid={username})',
    groupBase: `ou=groups,${SUFFIX}`, groupFilter: '(|(member={dn})(uniqueMember={dn})(memberUid={username}))', groupAttribute: 'cn',
    usernamePrefix: '', groupsPrefix: '', startTls: false, timeoutMs: 3000, cacheMs: 10000, ...over,
  };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-ldap-'));
  port = await freePort();
  execFileSync('bash', [path.join(REPO, 'scripts/ldap.sh'), 'start'], { env: ldapEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
  const sink = new Writable({ write(chunk, _e, cb) { logLines.push(String(chunk)); cb(); } });
  api = await openTestApi('ldap', { logger: pino({ level: 'debug' }, sink), auth: { ldap: config(), adminGroups: ['stratus:admins', 'stratus-admins'] } });
}, 120000);
afterAll(async () => {
  await api?.close();
  execFileSync('bash', [path.join(REPO, 'scripts/ldap.sh'), 'stop'], { env: ldapEnv(), stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a directory user signs in with a simple bind; groups come from groupOfNames and posixGroup', async () => {
  const alice = await api.anon.get('/auth/v1/whoami').set('Authorization', basic('alice', 'alice-password')).expect(200);
  expect(alice.body).toMatchObject({ user: 'alice', authenticator: 'ldap', groups: ['developers', 'system:authenticated'], admin: false });
  const bob = await api.anon.get('/auth/v1/whoami').set('Authorization', basic('bob', 'bob-password')).expect(200);
  expect(bob.body.groups).toEqual(['auditors', 'developers', 'system:authenticated']);
  const carol = await api.anon.get('/auth/v1/whoami').set('Authorization', basic('carol', 'carol-password')).expect(200);
  expect(carol.body.admin).toBe(true);
});

test('wrong passwords, unknown users, empty passwords and filter or DN injection are refused with 401', async () => {
  for (const [u, p] of [['alice', 'wrong'], ['alice', 'bob-password'], ['nobody', 'x'], ['alice', ''], ['*', 'alice-password'],
    ['alice)(uid=*', 'x'], ['alice,ou=people', 'alice-password'], ['cn=admin', 'x'], [' alice', 'alice-password']]) {
    const r = await api.anon.get('/auth/v1/whoami').set('Authorization', basic(u, p));
    expect([u, p, r.status, r.body.reason]).toEqual([u, p, 401, 'Unauthorized']);
  }
});

test('directory groups give project roles; a directory login is exchanged for a system token', async () => {
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'lab' }, spec: { members: [{ group: 'developers', role: 'editor' }, { group: 'auditors', role: 'viewer' }] } }).expect(201);
  const vm = { apiVersion: V, kind: 'VirtualMachine', metadata: { name: 'by-alice' }, spec: { cpu: 1, memory: '1Gi' } };
  await api.anon.post(`${API}/namespaces/lab/virtualmachines`).set('Authorization', basic('alice', 'alice-password')).send(vm).expect(201);
  await api.anon.post(`${API}/namespaces/lab/virtualmachines`).set('Authorization', basic('carol', 'wrong')).send(vm).expect(401);
  const tok = (await api.anon.post('/auth/v1/tokens').set('Authorization', basic('bob', 'bob-password')).send({ ttl: '1h' }).expect(201)).body;
  expect(tok).toMatchObject({ user: 'bob', source: 'ldap', groups: ['auditors', 'developers'] });
  const me = await api.as(tok.token).get('/auth/v1/whoami').expect(200);
  expect(me.body).toMatchObject({ user: 'bob', authenticator: 'token', groups: ['auditors', 'developers', 'system:authenticated'] });
  await api.as(tok.token).get(`${API}/namespaces/lab/virtualmachines/by-alice`).expect(200);
  // A directory token does not renew itself: leaving the directory takes effect when it expires.
  await api.as(tok.token).post('/auth/v1/tokens').send({ ttl: '1h' }).expect(403);
  expect(logLines.join('')).not.toMatch(/alice-password|bob-password|carol-password/);
});

test('search-then-bind with a service account finds the user\'s DN; an unreachable directory is a 503, not a 401', async () => {
  const search = new LdapAuthenticator({
    config: config({ userDnTemplate: undefined, bindDn: `cn=reader,${SUFFIX}`, bindPassword: 'reader-password', userBase: `ou=people,${SUFFIX}`, cacheMs: 0 }),
  });
  expect(await search.authenticate({ type: 'basic', username: 'bob', password: 'bob-password' })).toMatchObject({ name: 'bob', groups: ['auditors', 'developers', 'system:authenticated'] });
  await expect(search.authenticate({ type: 'basic', username: 'bob', password: 'nope' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  await expect(search.authenticate({ type: 'bearer', token: 'x' })).resolves.toBeUndefined();
  const down = new LdapAuthenticator({ config: config({ url: `ldap://127.0.0.1:${await freePort()}`, cacheMs: 0, timeoutMs: 1000 }) });
  await expect(down.authenticate({ type: 'basic', username: 'alice', password: 'alice-password' })).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', status: 503 });
});

describe('stratus login against a frontend process configured for LDAP', () => {
  let fe: Frontend;
  beforeAll(async () => {
    fe = await startFrontend('ldapcli', {
      STRATUS_LDAP_URL: `ldap://127.0.0.1:${port}`, STRATUS_LDAP_USER_DN_TEMPLATE: `uid={username},ou=people,${SUFFIX}`, STRATUS_LDAP_GROUP_BASE: `ou=groups,${SUFFIX}`,
    });
  }, 90000);
  afterAll(async () => fe?.close());

  test('login -u USER --password-stdin stores a token in the config; whoami shows the directory identity; logout revokes it', async () => {
    const config = path.join(fe.dir, 'login.yaml');
    fs.writeFileSync(config, YAML.stringify({ servers: [fe.url] }));
    const env = { STRATUS_CONFIG: config, HOME: fe.dir, STRATUS_TEST_ANONYMOUS: '1' };
    const denied = await stratus(['get', 'vm', '-n', 'lab'], env);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/You must be logged in to the server \(Unauthorized\)/);
    const bad = await stratus(['login', '-u', 'alice', '--password-stdin'], env, 'wrong\n');
    expect(bad.code).toBe(1);
    const ok = await stratus(['login', '-u', 'alice', '--password-stdin', '--ttl', '2h'], env, 'alice-password\n');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^Logged in as alice \(token [0-9a-f]{12}, expires /);
    const saved = YAML.parse(fs.readFileSync(config, 'utf8'));
    expect(saved.token).toMatch(/^stratus_/);
    expect(saved.servers).toEqual([fe.url]);
    expect(fs.statSync(config).mode & 0o777).toBe(0o600);
    const who = await stratus(['whoami', '-o', 'json'], env);
    expect(JSON.parse(who.stdout)).toMatchObject({ user: 'alice', authenticator: 'token', groups: ['developers', 'system:authenticated'] });
    const out = await stratus(['logout'], env);
    expect(out.code).toBe(0);
    expect(YAML.parse(fs.readFileSync(config, 'utf8')).token).toBeUndefined();
    const after = await stratus(['whoami', '--token', saved.token], env);
    expect(after.code).toBe(1);
  }, 60000);
});
