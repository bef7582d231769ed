// Networks and SecurityGroups with the `stratus` CLI and stock kubectl against a frontend process
// (dist/api/main.js) and real Cassandra: apply the examples, get tables (-o wide: a VM's
// addresses), -o json, describe with the Leases table, and a refused overlapping Network.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import YAML from 'yaml';
import { addressClaimName, macFor } from '../../kube/networks';
import { createCassandraClient, ObjectStore } from '../../store';
import { REPO, startFrontend, stratus, type Frontend } from '../helpers/frontend';
import { cassandraContactPoints } from '../helpers/store';

const V = 'stratuslab.eu/v1alpha1';
let fe: Frontend;
let env: Record<string, string>;
let kubeconfig: string;
let client: ReturnType<typeof createCassandraClient>;
let store: ObjectStore;
let dispatcher: Agent;

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', path.join(fe.dir, 'kube-cache'), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
  });
}

async function api(method: string, p: string, body: unknown, type = 'application/json'): Promise<any> {
  const r = await undiciFetch(`${fe.url}${p}`, { method, dispatcher, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': type, authorization: `Bearer ${fe.token}` } });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const example = (f: string) => path.join(REPO, 'examples', f);

beforeAll(async () => {
  // HTTPS: kubectl sends no bearer token to a plain-HTTP server
  fe = await startFrontend('netcli', {}, { tls: true });
  dispatcher = new Agent({ connect: { ca: fs.readFileSync(fe.ca!) } });
  const config = path.join(fe.dir, 'config.yaml');
  fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: 'demo', token: fe.token, ca: fe.ca }));
  env = { STRATUS_CONFIG: config, HOME: fe.dir };
  kubeconfig = path.join(fe.dir, 'kubeconfig');
  fs.writeFileSync(kubeconfig, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'stratus',
    clusters: [{ name: 'stratus', cluster: { server: fe.url, 'certificate-authority': fe.ca } }],
    users: [{ name: 'u', user: { token: fe.token } }],
    contexts: [{ name: 'stratus', context: { cluster: 'stratus', user: 'u', namespace: 'demo' } }],
  }));
  client = createCassandraClient({ contactPoints: cassandraContactPoints() });
  await client.connect();
  store = new ObjectStore({ client, keyspace: fe.keyspace });
  await store.init();
}, 90_000);
afterAll(async () => {
  await client?.shutdown();
  await dispatcher?.close();
  await fe?.close();
});

test('apply -f examples/network.yaml creates the Network and the SecurityGroup; get prints their tables', async () => {
  expect((await stratus(['apply', '-f', example('project.yaml')], env)).code).toBe(0);
  const applied = await stratus(['apply', '-f', example('network.yaml')], env);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.stdout).toBe('network.stratuslab.eu/lan created\nsecuritygroup.stratuslab.eu/ssh created\n');
  const again = await stratus(['apply', '-f', example('network.yaml')], env);
  expect(again.stdout).toBe('network.stratuslab.eu/lan unchanged\nsecuritygroup.stratuslab.eu/ssh unchanged\n');

  const table = await stratus(['get', 'networks'], env);
  expect(table.code).toBe(0);
  const [header, row] = table.stdout.trim().split('\n');
  expect(header.split(/\s{2,}/)).toEqual(['NAME', 'CIDR', 'MODE', 'USED', 'FREE', 'READY', 'AGE']);
  expect(row).toMatch(/^lan\s+10\.42\.0\.0\/24\s+nat\s/);
  const wide = await stratus(['get', 'net', '-o', 'wide'], env);
  expect(wide.stdout.split('\n')[0].split(/\s{2,}/)).toEqual(['NAME', 'CIDR', 'MODE', 'USED', 'FREE', 'READY', 'AGE', 'GATEWAY', 'VNI', 'SHARED']);

  const sg = await stratus(['get', 'sg'], env);
  expect(sg.code).toBe(0);
  expect(sg.stdout.split('\n')[0].split(/\s{2,}/)).toEqual(['NAME', 'INGRESS', 'EGRESS', 'MEMBERS', 'AGE']);
  expect(sg.stdout).toMatch(/^ssh\s+tcp,icmp\s/m);

  const json = await stratus(['get', 'network', 'lan', '-o', 'json'], env);
  expect(json.code).toBe(0);
  const obj = JSON.parse(json.stdout);
  expect(obj).toMatchObject({ kind: 'Network', metadata: { name: 'lan', namespace: 'demo', finalizers: ['stratuslab.eu/network-in-use'] } });
  expect(obj.spec).toEqual({ cidr: '10.42.0.0/24', mode: 'nat', dns: ['1.1.1.1'], reserved: ['10.42.0.2-10.42.0.9'] });
  const list = JSON.parse((await stratus(['get', 'networks,securitygroups', '-o', 'json'], env)).stdout);
  expect(list.items.map((o: any) => `${o.kind}/${o.metadata.name}`)).toEqual(['Network/lan', 'SecurityGroup/ssh']);
}, 60_000);

test('describe network shows spec, status and a Leases table read from the address claims', async () => {
  const empty = await stratus(['describe', 'network', 'lan'], env);
  expect(empty.code).toBe(0);
  expect(empty.stdout).toMatch(/^Name:\s+lan$/m);
  expect(empty.stdout).toMatch(/^Spec:\n {2}CIDR:\s+10\.42\.0\.0\/24\n {2}Mode:\s+nat\n {2}DNS:\n {4}1\.1\.1\.1$/m);
  expect(empty.stdout).toMatch(/^Leases:\s+<none>$/m);

  expect((await stratus(['apply', '-f', example('image.yaml'), '-f', example('vm-on-network.yaml')], env)).code).toBe(0);
  const vm = await api('GET', `/apis/${V}/namespaces/demo/virtualmachines/app-1`, undefined);
  const net = await api('GET', `/apis/${V}/namespaces/demo/networks/lan`, undefined);
  // what the scheduler writes at bind time (controllers/ipam/): the claim and the VM's status.addresses
  const mac = macFor(vm.metadata.uid, 0);
  await store.create({
    apiVersion: V, kind: 'AddressClaim', metadata: { name: addressClaimName('lan', '10.42.0.10'), namespace: 'demo' },
    spec: { network: 'lan', networkUID: net.metadata.uid, address: '10.42.0.10', uid: vm.metadata.uid, vm: 'demo/app-1', interface: 'eth0', by: 'test/1', at: Date.now() },
  } as any);
  await api('PATCH', `/apis/${V}/namespaces/demo/virtualmachines/app-1/status`, {
    status: { addresses: [{ name: 'eth0', network: 'demo/lan', ipAddress: '10.42.0.10', prefixLength: 24, gateway: '10.42.0.1', mac }] },
  }, 'application/merge-patch+json');

  const d = await stratus(['describe', 'net', 'lan'], env);
  expect(d.code).toBe(0);
  const leases = d.stdout.slice(d.stdout.indexOf('Leases:')).split('\n');
  expect(leases[0]).toBe('Leases:');
  expect(leases[1].trim().split(/\s{2,}/)).toEqual(['Address', 'VM', 'Interface', 'MAC']);
  expect(leases[3].trim().split(/\s{2,}/)).toEqual(['10.42.0.10', 'demo/app-1', 'eth0', mac]);

  const wide = await stratus(['get', 'vm', 'app-1', '-o', 'wide'], env);
  const [header, row] = wide.stdout.trim().split('\n');
  const col = header.split(/\s{2,}/).indexOf('ADDRESSES');
  expect(col).toBeGreaterThan(0);
  expect(row.split(/\s{2,}/)).toContain('10.42.0.10');
}, 60_000);

test('kubectl get networks, sg and vm -o wide print the same columns', async () => {
  const nets = await kubectl(['get', 'networks']);
  expect(nets.stderr).toBe('');
  expect(nets.stdout).toMatch(/^NAME\s+CIDR\s+MODE\s+USED\s+FREE\s+READY\s+AGE$/m);
  expect(nets.stdout).toMatch(/^lan\s+10\.42\.0\.0\/24\s+nat\s/m);
  const sgs = await kubectl(['get', 'sg']);
  expect(sgs.stdout).toMatch(/^ssh\s+tcp,icmp\s/m);
  const vms = await kubectl(['get', 'vm', 'app-1', '-o', 'wide']);
  expect(vms.stdout).toMatch(/ADDRESSES/);
  expect(vms.stdout).toMatch(/10\.42\.0\.10/);
  const leases = await kubectl(['get', '--raw', `/apis/${V}/namespaces/demo/networks/lan/leases`]);
  expect(JSON.parse(leases.stdout).items.map((l: any) => l.address)).toEqual(['10.42.0.10']);
}, 60_000);

test('an overlapping Network is refused with the field and the other network named; nothing is written', async () => {
  const file = path.join(fe.dir, 'overlap.yaml');
  fs.writeFileSync(file, YAML.stringify({ apiVersion: V, kind: 'Network', metadata: { name: 'lan-2', namespace: 'demo' }, spec: { cidr: '10.42.0.128/25' } }));
  const r = await stratus(['apply', '-f', file], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/spec\.cidr: Invalid value: "10\.42\.0\.128\/25": overlaps 10\.42\.0\.0\/24 of Network "lan" in project demo/);
  expect((await stratus(['get', 'network', 'lan-2'], env)).code).toBe(1);
}, 60_000);
