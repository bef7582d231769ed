// spec.cloudInit through the API: malformed SSH keys, oversized user data and invalid network
// config are a 422 naming the field, on every write path, with nothing written; the user data is
// echoed in no error and logged by no frontend line.
import { Writable } from 'node:stream';
import pino from 'pino';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { LOG_REDACT } from '../../api/auth/redact';

const NS = `${API}/namespaces/demo`;
const SECRET = 'hunter2-s3cr3t-token';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINIVfS0Zq4I/LrkWSBVdQMr4XKZ2WD63baShgRR2gelt alice@laptop';
const USER_DATA = `#cloud-config\nwrite_files:\n  - path: /etc/app-token\n    content: ${SECRET}\n`;
const vm = (name: string, cloudInit: Record<string, unknown>) => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name },
  spec: { cpu: 1, memory: '1Gi', cloudInit },
});

let api: TestApi;
const logLines: string[] = [];

beforeAll(async () => {
  // The frontend's own redaction (api/main.ts), at the chattiest level.
  const logger = pino({ level: 'trace', redact: LOG_REDACT }, new Writable({ write(c, _e, done) { logLines.push(String(c)); done(); } }));
  api = await openTestApi('cloudinit', { logger });
  await api.req.post(`${API}/projects`).send({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: {} }).expect(201);
});
afterAll(async () => api.close());

async function objectCount(): Promise<number> {
  const rs = await api.client.execute(`SELECT count(*) AS n FROM ${api.keyspace}.objects`);
  return Number(rs.first()['n']);
}

describe('a create that is refused writes nothing', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['a malformed key', { sshAuthorizedKeys: [KEY, 'ssh-rsa AAAA oops'] }, 'spec.cloudInit.sshAuthorizedKeys[1]', /not an OpenSSH public key/],
    ['a private key', { sshAuthorizedKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] }, 'spec.cloudInit.sshAuthorizedKeys[0]', /must be a public key/],
    ['two keys on one line', { sshAuthorizedKeys: [`${KEY}\n${KEY}`] }, 'spec.cloudInit.sshAuthorizedKeys[0]', /one line/],
    ['user data over 64 KiB', { userData: USER_DATA + 'x'.repeat(65536) }, 'spec.cloudInit.userData', /Too long: may not be more than 65536 bytes/],
    ['network config that is not version 2', { networkData: 'version: 1\nconfig: []\n' }, 'spec.cloudInit.networkData', /version: 2/],
  ];
  test.each(cases)('%s: 422 naming the field', async (_name, cloudInit, field, message) => {
    const before = await objectCount();
    const res = await api.req.post(`${NS}/virtualmachines`).send(vm('x', cloudInit)).expect(422);
    expect(res.body).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid' });
    expect(res.body.details.causes).toEqual([expect.objectContaining({ field, reason: expect.stringMatching(/^FieldValue/) })]);
    expect(res.body.message).toMatch(message);
    expect(res.text).not.toContain(SECRET);
    expect(await objectCount()).toBe(before);
    await api.req.get(`${NS}/virtualmachines/x`).expect(404);
  });
});

test('valid keys, user data and network config are stored as given', async () => {
  const cloudInit = { sshAuthorizedKeys: [KEY], userData: USER_DATA, networkData: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n' };
  await api.req.post(`${NS}/virtualmachines`).send(vm('ok', cloudInit)).expect(201);
  expect((await api.req.get(`${NS}/virtualmachines/ok`).expect(200)).body.spec.cloudInit).toEqual(cloudInit);
});

test('an update, a patch or an apply with a bad key is refused too, and the VM is unchanged', async () => {
  const cur = (await api.req.get(`${NS}/virtualmachines/ok`).expect(200)).body;
  const bad = { ...cur, spec: { ...cur.spec, cloudInit: { ...cur.spec.cloudInit, sshAuthorizedKeys: ['nope'] } } };
  const put = await api.req.put(`${NS}/virtualmachines/ok`).send(bad).expect(422);
  expect(put.body.details.causes[0].field).toBe('spec.cloudInit.sshAuthorizedKeys[0]');
  const merge = await api.req.patch(`${NS}/virtualmachines/ok`).set('Content-Type', 'application/merge-patch+json')
    .send({ spec: { cloudInit: { sshAuthorizedKeys: [KEY, 'ssh-ed25519 AAAAC3'] } } }).expect(422);
  expect(merge.body.details.causes[0].field).toBe('spec.cloudInit.sshAuthorizedKeys[1]');
  const apply = await api.req.patch(`${NS}/virtualmachines/ok?fieldManager=me&force=true`).set('Content-Type', 'application/apply-patch+yaml')
    .send(JSON.stringify({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'ok' }, spec: { cpu: 1, memory: '1Gi', cloudInit: { userData: 'y'.repeat(70000) } } })).expect(422);
  expect(apply.body.details.causes[0].field).toBe('spec.cloudInit.userData');
  const after = (await api.req.get(`${NS}/virtualmachines/ok`).expect(200)).body;
  expect(after.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
});

test('the user data is in no line the frontend logged; a VM logged whole has it redacted', () => {
  expect(logLines.join('')).not.toContain(SECRET);
  const lines: string[] = [];
  const l = pino({ level: 'info', redact: LOG_REDACT }, new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
  l.info({ req: { body: vm('x', { userData: SECRET }) } }, 'a request');
  l.info({ object: vm('x', { userData: SECRET }) }, 'an object');
  expect(lines.join('')).not.toContain(SECRET);
  expect(lines.join('').match(/\[redacted\]/g)).toHaveLength(2);
});
