// Networks, SecurityGroups and VM interfaces through the API (real Cassandra, the real Koa app):
// create, get, list and Tables; the 422s of bad input, each naming its field, with nothing written;
// immutable fields; spec.shared for administrators only; VMs on another project's Network only
// when it is shared; the in-use finalizer; a Network's leases read from its AddressClaims.
import { openTestApi, API, type TestApi } from '../helpers/api';
import { NETWORK_FINALIZER, addressClaimName, macFor } from '../../kube/networks';

const V = 'stratuslab.eu/v1alpha1';
const ALPHA = `${API}/namespaces/alpha`;
const BETA = `${API}/namespaces/beta`;
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const MERGE = 'application/merge-patch+json';

const network = (name: string, spec: Record<string, unknown>) => ({ apiVersion: V, kind: 'Network', metadata: { name }, spec });
const sg = (name: string, spec: Record<string, unknown>) => ({ apiVersion: V, kind: 'SecurityGroup', metadata: { name }, spec });
const vm = (name: string, networks: unknown[]) => ({ apiVersion: V, kind: 'VirtualMachine', metadata: { name }, spec: { cpu: 1, memory: '1Gi', networks } });

let api: TestApi;
let editor: string; // editor of alpha
let bob: string; // editor of beta
let viewer: string; // viewer of alpha
let outsider: string; // no role anywhere

beforeAll(async () => {
  api = await openTestApi('networks');
  [editor, bob, viewer, outsider] = await Promise.all(['ed', 'bob', 'vic', 'otto'].map((u) => api.tokenFor(u)));
  const project = (name: string, members: unknown[]) => ({ apiVersion: V, kind: 'Project', metadata: { name }, spec: { members } });
  await api.req.post(`${API}/projects`).send(project('alpha', [{ user: 'ed', role: 'editor' }, { user: 'vic', role: 'viewer' }])).expect(201);
  await api.req.post(`${API}/projects`).send(project('beta', [{ user: 'bob', role: 'editor' }])).expect(201);
  await api.as(editor).post(`${ALPHA}/networks`).send(network('web', { cidr: '10.10.0.0/24', reserved: ['10.10.0.200-10.10.0.209'] })).expect(201);
  await api.req.post(`${ALPHA}/networks`).send(network('public', { cidr: '192.168.50.0/24', shared: true })).expect(201);
}, 60000);
afterAll(async () => api.close());

async function objectCount(): Promise<number> {
  const rs = await api.client.execute(`SELECT count(*) AS n FROM ${api.keyspace}.objects`);
  return Number(rs.first()['n']);
}

/** A refused create: 422 naming `field`, the message matching, nothing written. */
async function refusedCreate(url: string, body: any, field: string, message: RegExp, who = api.req): Promise<any> {
  const before = await objectCount();
  const res = await who.post(url).send(body);
  expect({ status: res.status, body: res.body }).toMatchObject({ status: 422, body: { kind: 'Status', code: 422, reason: 'Invalid' } });
  expect(res.body.details.causes.map((c: any) => c.field)).toContain(field);
  expect(res.body.message).toMatch(message);
  expect(res.body.message).toContain(`${field}: `);
  expect(await objectCount()).toBe(before);
  await api.req.get(`${url}/${body.metadata.name}`).expect(404);
  return res.body;
}

describe('Networks', () => {
  test('create defaults the mode and adds the in-use finalizer; get and list return it', async () => {
    const got = (await api.req.get(`${ALPHA}/networks/web`).expect(200)).body;
    expect(got.spec).toEqual({ cidr: '10.10.0.0/24', mode: 'nat', reserved: ['10.10.0.200-10.10.0.209'] });
    expect(got.metadata.finalizers).toEqual([NETWORK_FINALIZER]);
    const list = (await api.as(viewer).get(`${ALPHA}/networks`).expect(200)).body;
    expect(list.kind).toBe('NetworkList');
    expect(list.items.map((n: any) => n.metadata.name)).toEqual(['public', 'web']);
    // by the short name's plural in the URL only: `net` is for clients, the URL takes the plural
    await api.req.get(`${API}/networks`).expect(200);
  });

  test('a Table for kubectl: CIDR, Mode, Used, Free, Ready, Age (Gateway, VNI, Shared with -o wide)', async () => {
    const res = await api.req.get(`${ALPHA}/networks`).set('Accept', TABLE).expect(200);
    expect(res.body.kind).toBe('Table');
    expect(res.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'CIDR', 'Mode', 'Used', 'Free', 'Ready', 'Age', 'Gateway', 'VNI', 'Shared']);
    const row = res.body.rows.find((r: any) => r.cells[0] === 'web');
    expect(row.cells.slice(0, 3)).toEqual(['web', '10.10.0.0/24', 'nat']);
    const shared = res.body.rows.find((r: any) => r.cells[0] === 'public');
    expect(shared.cells[9]).toBe('true');
    const one = await api.req.get(`${ALPHA}/networks/web`).set('Accept', TABLE).expect(200);
    expect(one.body.rows).toHaveLength(1);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an overlapping CIDR', { cidr: '10.10.0.128/25' }, 'spec.cidr', /overlaps 10\.10\.0\.0\/24 of Network "web" in project alpha/],
    ['a CIDR containing another', { cidr: '10.0.0.0/8' }, 'spec.cidr', /overlaps 10\.10\.0\.0\/24 of Network "web"/],
    ['host bits in the CIDR', { cidr: '10.40.0.1/24' }, 'spec.cidr', /host bits set/],
    ['a prefix too long', { cidr: '10.40.0.0/31' }, 'spec.cidr', /prefix length must be between 8 and 30/],
    ['a gateway outside the CIDR', { cidr: '10.20.0.0/24', gateway: '10.21.0.1' }, 'spec.gateway', /"10\.21\.0\.1": 10\.21\.0\.1 is not a usable address of 10\.20\.0\.0\/24/],
    ['the broadcast address as gateway', { cidr: '10.20.0.0/24', gateway: '10.20.0.255' }, 'spec.gateway', /not a usable address/],
    ['a reserved address outside', { cidr: '10.30.0.0/24', reserved: ['10.30.0.5', '10.30.1.5'] }, 'spec.reserved[1]', /10\.30\.1\.5 is not inside 10\.30\.0\.0\/24/],
    ['a reserved range backwards', { cidr: '10.30.0.0/24', reserved: ['10.30.0.9-10.30.0.5'] }, 'spec.reserved[0]', /ends before it starts/],
    ['mode bridge without a bridge', { cidr: '10.50.0.0/24', mode: 'bridge' }, 'spec.bridge', /Required value: is required when mode is bridge/],
    ['a bridge without its interface', { cidr: '10.50.0.0/24', mode: 'bridge', bridge: { vlan: 12 } }, 'spec.bridge.interface', /Required value/],
    ['a bridge on a nat network', { cidr: '10.50.0.0/24', bridge: { interface: 'eth1' } }, 'spec.bridge', /only allowed when mode is bridge/],
    ['a vni on a nat network', { cidr: '10.60.0.0/24', vni: 100 }, 'spec.vni', /Invalid value: 100: is only allowed when mode is overlay/],
    ['a CIDR that is not one', { cidr: 'ten/24' }, 'spec.cidr', /must be an IPv4 CIDR/],
  ];
  test.each(bad)('%s: 422 naming the field, nothing written', async (_name, spec, field, message) => {
    await refusedCreate(`${ALPHA}/networks`, network('bad', spec), field, message, api.as(editor));
  });

  test('the same CIDR in another project is fine: overlap is checked per project', async () => {
    await api.as(bob).post(`${BETA}/networks`).send(network('web', { cidr: '10.10.0.0/24' })).expect(201);
  });

  test('server-side apply and dry runs are checked the same way', async () => {
    const before = await objectCount();
    const res = await api.req.patch(`${ALPHA}/networks/bad?fieldManager=t`).set('Content-Type', 'application/apply-patch+yaml')
      .send(JSON.stringify(network('bad', { cidr: '10.10.0.0/16' }))).expect(422);
    expect(res.body.details.causes[0].field).toBe('spec.cidr');
    await api.req.post(`${ALPHA}/networks?dryRun=All`).send(network('bad', { cidr: '10.10.0.0/16' })).expect(422);
    const dry = await api.req.post(`${ALPHA}/networks?dryRun=All`).send(network('dry', { cidr: '10.70.0.0/16' })).expect(201);
    expect(dry.body.metadata.finalizers).toEqual([NETWORK_FINALIZER]);
    expect(await objectCount()).toBe(before);
  });

  test('cidr, mode, vni and bridge are immutable; gateway, dns, reserved and mtu may change', async () => {
    await api.as(editor).post(`${ALPHA}/networks`).send(network('imm', { cidr: '10.80.0.0/24' })).expect(201);
    const cur = (await api.req.get(`${ALPHA}/networks/imm`).expect(200)).body;
    const changes: Array<[Record<string, unknown>, string]> = [
      [{ cidr: '10.81.0.0/24' }, 'spec.cidr'],
      [{ mode: 'overlay' }, 'spec.mode'],
    ];
    for (const [spec, field] of changes) {
      const res = await api.as(editor).patch(`${ALPHA}/networks/imm`).set('Content-Type', MERGE).send({ spec }).expect(422);
      expect(res.body.details.causes).toContainEqual(expect.objectContaining({ field, reason: 'FieldValueInvalid', message: expect.stringMatching(/field is immutable$/) }));
    }
    const put = await api.as(editor).put(`${ALPHA}/networks/imm`).send({ ...cur, spec: { ...cur.spec, cidr: '10.82.0.0/24' } }).expect(422);
    expect(put.body.message).toMatch(/spec\.cidr: Invalid value: "10\.82\.0\.0\/24": field is immutable/);
    const applied = await api.req.patch(`${ALPHA}/networks/imm?fieldManager=t&force=true`).set('Content-Type', 'application/apply-patch+yaml')
      .send(JSON.stringify(network('imm', { cidr: '10.83.0.0/24' }))).expect(422);
    expect(applied.body.details.causes[0].field).toBe('spec.cidr');
    expect((await api.req.get(`${ALPHA}/networks/imm`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
    const ok = await api.as(editor).patch(`${ALPHA}/networks/imm`).set('Content-Type', MERGE)
      .send({ spec: { gateway: '10.80.0.254', dns: ['10.80.0.254'], reserved: ['10.80.0.10-10.80.0.19'], mtu: 1400 } }).expect(200);
    expect(ok.body.spec).toMatchObject({ cidr: '10.80.0.0/24', gateway: '10.80.0.254', mtu: 1400 });
    expect(ok.body.metadata.generation).toBe(2);
  });

  test('reserved ranges and the gateway may not take an address a VM holds', async () => {
    const web = (await api.req.get(`${ALPHA}/networks/web`).expect(200)).body;
    await api.store.create({
      apiVersion: V, kind: 'AddressClaim', metadata: { name: addressClaimName('web', '10.10.0.7'), namespace: 'alpha' },
      spec: { network: 'web', networkUID: web.metadata.uid, address: '10.10.0.7', uid: 'vm-uid-held', vm: 'alpha/holder', interface: 'eth0', by: 'test/1', at: Date.now() },
    } as any);
    const res = await api.as(editor).patch(`${ALPHA}/networks/web`).set('Content-Type', MERGE).send({ spec: { reserved: ['10.10.0.5-10.10.0.9'] } }).expect(422);
    expect(res.body.details.causes[0]).toMatchObject({ field: 'spec.reserved' });
    expect(res.body.message).toMatch(/would take 10\.10\.0\.7, which VM alpha\/holder holds \(interface eth0\)/);
    const gw = await api.as(editor).patch(`${ALPHA}/networks/web`).set('Content-Type', MERGE).send({ spec: { gateway: '10.10.0.7' } }).expect(422);
    expect(gw.body.details.causes[0]).toMatchObject({ field: 'spec.gateway' });
    expect((await api.req.get(`${ALPHA}/networks/web`).expect(200)).body.spec.reserved).toEqual(['10.10.0.200-10.10.0.209']);
    // a range that misses it is fine
    await api.as(editor).patch(`${ALPHA}/networks/web`).set('Content-Type', MERGE).send({ spec: { reserved: ['10.10.0.200-10.10.0.210'] } }).expect(200);
  });

  test('spec.shared is for cluster administrators: a project editor may neither set nor clear it', async () => {
    const res = await api.as(editor).post(`${ALPHA}/networks`).send(network('mine', { cidr: '10.90.0.0/24', shared: true })).expect(403);
    expect(res.body).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    expect(res.body.message).toMatch(/may not change spec\.shared: only cluster administrators/);
    await api.req.get(`${ALPHA}/networks/mine`).expect(404);
    await api.as(editor).post(`${ALPHA}/networks`).send(network('mine', { cidr: '10.90.0.0/24', shared: false })).expect(201);
    await api.as(editor).patch(`${ALPHA}/networks/mine`).set('Content-Type', MERGE).send({ spec: { shared: true } }).expect(403);
    await api.as(editor).patch(`${ALPHA}/networks/public`).set('Content-Type', MERGE).send({ spec: { shared: null } }).expect(403);
    // the rest of a shared network is the project's
    await api.as(editor).patch(`${ALPHA}/networks/public`).set('Content-Type', MERGE).send({ spec: { dns: ['192.168.50.1'] } }).expect(200);
    await api.req.patch(`${ALPHA}/networks/mine`).set('Content-Type', MERGE).send({ spec: { shared: true } }).expect(200);
  });

  test('deleting a Network waits for its finalizer (the network controller lifts it when no VM uses it)', async () => {
    await api.as(editor).post(`${ALPHA}/networks`).send(network('gone', { cidr: '10.95.0.0/24' })).expect(201);
    const del = await api.as(editor).delete(`${ALPHA}/networks/gone`).expect(200);
    expect(del.body.metadata.deletionTimestamp).toBeTruthy();
    const still = (await api.req.get(`${ALPHA}/networks/gone`).expect(200)).body;
    expect(still.metadata.finalizers).toEqual([NETWORK_FINALIZER]);
    // a VM may not join a Network on its way out
    await refusedCreate(`${ALPHA}/virtualmachines`, vm('late', [{ name: 'eth0', network: 'gone' }]), 'spec.networks[0].network', /Network alpha\/gone is being deleted/);
    await api.req.patch(`${ALPHA}/networks/gone`).set('Content-Type', MERGE).send({ metadata: { finalizers: null } }).expect(200);
    await api.req.get(`${ALPHA}/networks/gone`).expect(404);
  });
});

describe('SecurityGroups', () => {
  test('rules with a CIDR (or one address) or a group of the project are stored with protocol defaults', async () => {
    const spec = {
      ingress: [{ protocol: 'tcp', ports: '22', cidr: '0.0.0.0/0' }, { protocol: 'icmp', cidr: '10.1.2.3' }, { securityGroup: 'web' }, { protocol: 'udp', ports: '8000-8100', cidr: '10.0.0.1/8' }],
      egress: [{ protocol: 'tcp', ports: '443', cidr: '0.0.0.0/0' }],
    };
    const res = await api.as(editor).post(`${ALPHA}/securitygroups`).send(sg('ssh', spec)).expect(201);
    expect(res.body.spec.ingress[2]).toEqual({ protocol: 'any', securityGroup: 'web' });
    const table = await api.req.get(`${ALPHA}/securitygroups`).set('Accept', TABLE).expect(200);
    expect(table.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Ingress', 'Egress', 'Members', 'Age']);
    expect(table.body.rows[0].cells.slice(0, 3)).toEqual(['ssh', 'tcp,icmp,any,udp', 'tcp']);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['a rule with both cidr and securityGroup', { ingress: [{ cidr: '0.0.0.0/0', securityGroup: 'web' }] }, 'spec.ingress[0]', /mutually exclusive: set exactly one/],
    ['a rule with no peer', { egress: [{ protocol: 'tcp', ports: '80' }] }, 'spec.egress[0].cidr', /Required value: a rule names its peer/],
    ['ports with icmp', { ingress: [{ protocol: 'icmp', ports: '22', cidr: '0.0.0.0/0' }] }, 'spec.ingress[0].ports', /Forbidden: ports are only allowed with protocol tcp or udp, not icmp/],
    ['ports with any protocol', { ingress: [{ ports: '22', cidr: '0.0.0.0/0' }] }, 'spec.ingress[0].ports', /not any/],
    ['port 0', { ingress: [{ protocol: 'tcp', ports: '0', cidr: '0.0.0.0/0' }] }, 'spec.ingress[0].ports', /between 1 and 65535/],
    ['port 70000', { ingress: [{ protocol: 'udp', ports: '1-70000', cidr: '0.0.0.0/0' }] }, 'spec.ingress[0].ports', /between 1 and 65535/],
    ['a port range backwards', { ingress: [{ protocol: 'tcp', ports: '90-80', cidr: '0.0.0.0/0' }] }, 'spec.ingress[0].ports', /ends before it starts/],
    ['a CIDR that does not parse', { ingress: [{ cidr: '300.1.1.1/8' }] }, 'spec.ingress[0].cidr', /must be an IPv4 CIDR/],
    ['a prefix over 32', { ingress: [{ cidr: '10.0.0.0/33' }] }, 'spec.ingress[0].cidr', /must be an IPv4 CIDR/],
  ];
  test.each(bad)('%s: 422 naming the field, nothing written', async (_name, spec, field, message) => {
    await refusedCreate(`${ALPHA}/securitygroups`, sg('bad', spec), field, message, api.as(editor));
  });

  test('an update with a bad rule is refused and the group is unchanged', async () => {
    const cur = (await api.req.get(`${ALPHA}/securitygroups/ssh`).expect(200)).body;
    await api.as(editor).patch(`${ALPHA}/securitygroups/ssh`).set('Content-Type', MERGE).send({ spec: { egress: [{ protocol: 'icmp', ports: '1', cidr: '0.0.0.0/0' }] } }).expect(422);
    expect((await api.req.get(`${ALPHA}/securitygroups/ssh`).expect(200)).body.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
  });
});

describe('VM interfaces on Networks', () => {
  const bad: Array<[string, unknown[], string, RegExp]> = [
    ['an address outside the CIDR', [{ name: 'eth0', network: 'web', ipAddress: '10.11.0.5' }], 'spec.networks[0].ipAddress', /"10\.11\.0\.5": is not inside 10\.10\.0\.0\/24, the CIDR of Network "alpha\/web"/],
    ['the network address', [{ name: 'eth0', network: 'web', ipAddress: '10.10.0.0' }], 'spec.networks[0].ipAddress', /is the network address/],
    ['the broadcast address', [{ name: 'eth0', network: 'web', ipAddress: '10.10.0.255' }], 'spec.networks[0].ipAddress', /is the broadcast address/],
    ['the gateway', [{ name: 'eth0', network: 'web', ipAddress: '10.10.0.1' }], 'spec.networks[0].ipAddress', /is the gateway of Network "alpha\/web"/],
    ['a reserved address', [{ name: 'eth0', network: 'web', ipAddress: '10.10.0.205' }], 'spec.networks[0].ipAddress', /is reserved on Network "alpha\/web"/],
    ['an address without a network', [{ name: 'default', ipAddress: '10.0.2.15' }], 'spec.networks[0].ipAddress', /Forbidden: a fixed address is only allowed on an interface with a network/],
    ['security groups without a network', [{ name: 'default', securityGroups: ['ssh'] }], 'spec.networks[0].securityGroups', /only enforced on an interface with a network/],
    ['one address twice', [{ name: 'a', network: 'web', ipAddress: '10.10.0.20' }, { name: 'b', network: 'web', ipAddress: '10.10.0.20' }], 'spec.networks[1].ipAddress', /Duplicate value/],
    ['another project\'s network that is not shared', [{ name: 'eth0', network: 'beta/web' }], 'spec.networks[0].network', /is not a shared Network/],
    ['another project\'s network that does not exist', [{ name: 'eth0', network: 'beta/nope' }], 'spec.networks[0].network', /is not a shared Network/],
  ];
  test.each(bad)('%s: 422 naming the field, nothing written', async (_name, networks, field, message) => {
    await refusedCreate(`${ALPHA}/virtualmachines`, vm('bad', networks), field, message, api.as(editor));
  });

  test('a fixed address, security groups, an own Network that does not exist yet, a shared Network of another project', async () => {
    const res = await api.as(editor).post(`${ALPHA}/virtualmachines`).send(vm('fixed', [
      { name: 'eth0', network: 'web', ipAddress: '10.10.0.20', securityGroups: ['ssh', 'not-yet'] },
      { name: 'eth1', network: 'later' },
      { name: 'default' },
    ])).expect(201);
    expect(res.body.spec.networks[0]).toEqual({ name: 'eth0', network: 'web', ipAddress: '10.10.0.20', securityGroups: ['ssh', 'not-yet'] });
    // the own project named in full is the own project
    await api.as(editor).post(`${ALPHA}/virtualmachines`).send(vm('full-name', [{ name: 'eth0', network: 'alpha/web' }])).expect(201);
    // bob of beta attaches alpha's shared network, with a fixed address of it
    await api.as(bob).post(`${BETA}/virtualmachines`).send(vm('guest', [{ name: 'eth0', network: 'alpha/public', ipAddress: '192.168.50.77' }])).expect(201);
    await refusedCreate(`${BETA}/virtualmachines`, vm('guest-2', [{ name: 'eth0', network: 'alpha/public', ipAddress: '192.168.51.1' }]), 'spec.networks[0].ipAddress', /is not inside 192\.168\.50\.0\/24/, api.as(bob));
  });

  test('changing the interfaces is checked again; other changes of the VM are not', async () => {
    await api.as(editor).patch(`${ALPHA}/virtualmachines/fixed`).set('Content-Type', MERGE)
      .send({ spec: { networks: [{ name: 'eth0', network: 'web', ipAddress: '10.99.0.1' }] } }).expect(422);
    expect((await api.req.get(`${ALPHA}/virtualmachines/fixed`).expect(200)).body.spec.networks).toHaveLength(3);
    await api.as(editor).patch(`${ALPHA}/virtualmachines/fixed`).set('Content-Type', MERGE).send({ spec: { networks: [{ name: 'eth0', network: 'web', ipAddress: '10.10.0.21' }] } }).expect(200);
    // the shared network stops being shared: bob's VM stays writable, a new one is refused
    await api.req.patch(`${ALPHA}/networks/public`).set('Content-Type', MERGE).send({ spec: { shared: false } }).expect(200);
    await api.as(bob).patch(`${BETA}/virtualmachines/guest`).set('Content-Type', MERGE).send({ metadata: { labels: { a: 'b' } }, spec: { cpu: 2 } }).expect(200);
    await refusedCreate(`${BETA}/virtualmachines`, vm('guest-3', [{ name: 'eth0', network: 'alpha/public' }]), 'spec.networks[0].network', /is not a shared Network/, api.as(bob));
    await api.req.patch(`${ALPHA}/networks/public`).set('Content-Type', MERGE).send({ spec: { shared: true } }).expect(200);
  });
});

describe('a Network\'s leases', () => {
  test('GET …/networks/NAME/leases lists its AddressClaims in address order, with the VMs\' MACs', async () => {
    const web = (await api.req.get(`${ALPHA}/networks/web`).expect(200)).body;
    const fixed = (await api.req.get(`${ALPHA}/virtualmachines/fixed`).expect(200)).body;
    const claim = (net: any, address: string, uid: string, vmRef: string, iface: string) => api.store.create({
      apiVersion: V, kind: 'AddressClaim', metadata: { name: addressClaimName(net.metadata.name, address), namespace: net.metadata.namespace },
      spec: { network: net.metadata.name, networkUID: net.metadata.uid, address, uid, vm: vmRef, interface: iface, by: 'test/1', at: Date.parse('2024-05-01T12:00:00Z') },
    } as any);
    await claim(web, '10.10.0.21', fixed.metadata.uid, 'alpha/fixed', 'eth0');
    // a claim of an earlier network of the same name is not this one's
    await claim({ ...web, metadata: { ...web.metadata, uid: 'old-uid' } }, '10.10.0.3', 'x', 'alpha/old', 'eth0');
    const res = await api.as(viewer).get(`${ALPHA}/networks/web/leases`).expect(200);
    expect(res.body).toMatchObject({ apiVersion: V, kind: 'NetworkLeaseList' });
    expect(res.body.items).toEqual([
      { address: '10.10.0.7', vm: 'alpha/holder', interface: 'eth0', since: expect.any(String) },
      { address: '10.10.0.21', vm: 'alpha/fixed', interface: 'eth0', mac: macFor(fixed.metadata.uid, 0), since: '2024-05-01T12:00:00Z' },
    ]);
    // a VM of another project on a shared Network: named only to those who may see that project
    const pub = (await api.req.get(`${ALPHA}/networks/public`).expect(200)).body;
    const guest = (await api.req.get(`${BETA}/virtualmachines/guest`).expect(200)).body;
    await claim(pub, '192.168.50.77', guest.metadata.uid, 'beta/guest', 'eth0');
    expect((await api.as(editor).get(`${ALPHA}/networks/public/leases`).expect(200)).body.items).toEqual([{ address: '192.168.50.77', vm: 'beta/*', interface: 'eth0', since: expect.any(String) }]);
    expect((await api.req.get(`${ALPHA}/networks/public/leases`).expect(200)).body.items[0]).toMatchObject({ vm: 'beta/guest', mac: macFor(guest.metadata.uid, 0) });
  });

  test('leases are authorized as reading the Network, and 404 for a Network that does not exist', async () => {
    const res = await api.as(outsider).get(`${ALPHA}/networks/web/leases`).expect(403);
    expect(res.body.message).toMatch(/cannot get resource "networks\/leases"/);
    await api.as(bob).get(`${ALPHA}/networks/web/leases`).expect(403);
    await api.req.get(`${ALPHA}/networks/nope/leases`).expect(404);
    await api.req.get(`${ALPHA}/virtualmachines/fixed/leases`).expect(404);
  });

  test('discovery lists networks/leases', async () => {
    const res = await api.req.get(`${API}`).expect(200);
    expect(res.body.resources).toContainEqual(expect.objectContaining({ name: 'networks/leases', kind: 'NetworkLeaseList', verbs: ['get'] }));
  });
});
