// The CLI side of users and security, as spawned processes against a frontend process: 401 without
// credentials, `stratus login --token`, `stratus admin user|token`, a user's rights by project
// role, revocation, and `stratus audit` (table and -o json).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startFrontend, stratus, type Frontend } from '../helpers/frontend';

let fe: Frontend;
let env: Record<string, string>;
let config: string;

beforeAll(async () => {
  fe = await startFrontend('authcli');
  config = path.join(fe.dir, 'config.yaml');
  fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: 'team' }));
  env = { STRATUS_CONFIG: config, HOME: fe.dir, STRATUS_TEST_ANONYMOUS: '1' };
}, 90000);
afterAll(async () => fe.close());

test('without credentials every command is refused with a login hint; login --token stores a working token', async () => {
  const r = await stratus(['get', 'vm'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('error: You must be logged in to the server (Unauthorized)\n');
  const bad = await stratus(['login', '--token', 'stratus_not-a-real-token-at-all-0000000000000000000'], env);
  expect(bad.code).toBe(1);
  expect(YAML.parse(fs.readFileSync(config, 'utf8')).token).toBeUndefined();
  const ok = await stratus(['login', '--token', fe.token], env);
  expect(ok.stdout).toBe(`Logged in as admin; the token is in ${config}\n`);
  expect(YAML.parse(fs.readFileSync(config, 'utf8'))).toMatchObject({ servers: [fe.url], namespace: 'team', token: fe.token });
  const who = await stratus(['whoami'], env);
  expect(who.stdout).toMatch(/^User:\s+admin\nGroups:\s+stratus:admins, system:authenticated\nAuthenticator: token \(token [0-9a-f]{12}\)\nAdministrator: yes\n$/);
}, 60000);

test('an administrator creates a user and a token; the user acts by project role; a revoked token stops working', async () => {
  const u = await stratus(['admin', 'user', 'create', 'alice', '--group', 'devs', '--description', 'a tester'], env);
  expect([u.code, u.stdout]).toEqual([0, 'user/alice created\n']);
  const list = await stratus(['admin', 'user', 'list'], env);
  expect(list.stdout).toMatch(/^NAME\s+GROUPS\s+DISABLED\s+AGE\n(.*\n)*alice\s+devs\s+false\s+\d+s\n/);
  const t = await stratus(['admin', 'token', 'create', '--user', 'alice', '--ttl', '1h', '--description', 'ci'], env);
  expect(t.code).toBe(0);
  const token = t.stdout.trim();
  expect(token).toMatch(/^stratus_[A-Za-z0-9_-]{43}$/);
  expect(t.stderr).toMatch(/^token ([0-9a-f]{12}) for user alice, expires .* \(shown once: store it now\)\n$/);
  const id = /token ([0-9a-f]{12})/.exec(t.stderr)![1];
  const tokens = await stratus(['admin', 'token', 'list', '--user', 'alice', '-o', 'json'], env);
  expect(JSON.parse(tokens.stdout).items).toEqual([expect.objectContaining({ id, user: 'alice', description: 'ci', source: 'local' })]);
  expect(tokens.stdout).not.toContain(token);

  const project = 'apiVersion: stratuslab.eu/v1alpha1\nkind: Project\nmetadata: {name: team}\nspec:\n  members: [{group: devs, role: editor}]\n  quota: {vms: 1}\n';
  expect((await stratus(['apply', '-f', '-'], env, project)).code).toBe(0);
  const vm = (name: string) => `apiVersion: stratuslab.eu/v1alpha1\nkind: VirtualMachine\nmetadata: {name: ${name}}\nspec: {cpu: 1, memory: 1Gi}\n`;
  const asAlice = { ...env, STRATUS_CONFIG: path.join(fe.dir, 'alice.yaml') };
  fs.writeFileSync(asAlice.STRATUS_CONFIG, YAML.stringify({ servers: [fe.url], namespace: 'team', token }));
  const created = await stratus(['apply', '-f', '-'], asAlice, vm('alice-vm'));
  expect([created.code, created.stdout]).toEqual([0, 'virtualmachine.stratuslab.eu/alice-vm created\n']);
  const quota = await stratus(['apply', '-f', '-'], asAlice, vm('alice-vm-2'));
  expect(quota.code).toBe(1);
  expect(quota.stderr).toMatch(/Error from server \(Forbidden\): .*exceeded quota: team, requested: vms=1, used: vms=1, limited: vms=1/);
  const hosts = await stratus(['get', 'hosts'], asAlice);
  expect(hosts.code).toBe(1);
  expect(hosts.stderr).toMatch(/Error from server \(Forbidden\): hosts\.stratuslab\.eu is forbidden: User "alice" cannot list resource "hosts"/);
  const other = await stratus(['get', 'vm', '-n', 'default'], asAlice);
  expect(other.stderr).toMatch(/Forbidden/);
  const admin = await stratus(['admin', 'user', 'list'], asAlice);
  expect(admin.stderr).toMatch(/Forbidden/);

  expect((await stratus(['admin', 'token', 'revoke', id], env)).stdout).toBe(`token/${id} revoked\n`);
  const after = await stratus(['get', 'vm'], asAlice);
  expect(after.stderr).toBe('error: You must be logged in to the server (Unauthorized)\n');
}, 90000);

test('stratus audit shows who changed what, newest first, as a table or JSON', async () => {
  await new Promise((r) => setTimeout(r, 300)); // audit records are written off the request path
  const table = await stratus(['audit', '--since', '10m', '--project', 'team'], env);
  expect(table.code).toBe(0);
  const lines = table.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^TIME\s+USER\s+VERB\s+RESOURCE\s+PROJECT\s+NAME\s+RESULT$/);
  expect(table.stdout).toMatch(/alice\s+patch\s+virtualmachines\s+team\s+alice-vm-2\s+403 Forbidden/);
  expect(table.stdout).toMatch(/alice\s+patch\s+virtualmachines\s+team\s+alice-vm\s+201/);
  const json = await stratus(['audit', '--user', 'alice', '-o', 'json', '--limit', '50'], env);
  const items = JSON.parse(json.stdout).items;
  expect(items.length).toBeGreaterThanOrEqual(2);
  expect(items.every((r: any) => r.user === 'alice')).toBe(true);
  expect(Date.parse(items[0].time)).toBeGreaterThanOrEqual(Date.parse(items[items.length - 1].time));
  const asAlice = { ...env, STRATUS_CONFIG: path.join(fe.dir, 'alice.yaml') };
  expect((await stratus(['audit'], asAlice)).code).toBe(1);
}, 60000);
