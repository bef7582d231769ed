// The guest's side of a VM in the agent's pure steps: the seed and SSH forward in the desired
// domain, their fingerprint, the plan's seed actions and RestartRequired, and the status fields.
import type { VirtualMachineObject } from '../../store';
import type { VirtualMachineSpec } from '../../schemas/types.gen';
import { fingerprintDiff, fingerprintOf, parseOwner } from '../../agents/domain';
import { resolveDesired, type DesiredVm, type HostContext } from '../../agents/vm/desired';
import { plan, type Observed, type ObservedDomain } from '../../agents/vm/plan';
import { computeStatus, mergeStatus, type StatusInput } from '../../agents/vm/status';

const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';
const ports: Record<string, number> = { 'demo/web': 22013 };
const testCtx: HostContext = { host: 'hv-1', virtType: 'test', consoleDir: '/c', pool: 'default', poolPaths: { default: '/p' }, defaultDiskBytes: 1 << 30, seedDir: '/state/seeds/hv-1/' };
const qemuCtx: HostContext = { ...testCtx, virtType: 'qemu', forward: { address: '127.0.0.1', portOf: (k) => ports[k] } };

function desired(spec: Partial<VirtualMachineSpec> = {}, ctx = testCtx, name = 'web'): DesiredVm {
  const vm: VirtualMachineObject = {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
    metadata: { name, namespace: 'demo', uid: UID, generation: 1 },
    spec: { cpu: 1, memory: '1Gi', ...spec },
    status: { host: 'hv-1' },
  };
  const r = resolveDesired(vm, { images: {}, volumes: {} }, ctx);
  if (!r.desired) throw new Error(r.problem.message);
  return r.desired;
}

function domainOf(d: DesiredVm, state: ObservedDomain['state'], liveSeed?: string, xml = d.xml): ObservedDomain {
  const fingerprint = fingerprintOf(xml);
  return { name: d.domain.name, uuid: d.uid, state, reason: 'booted', owner: parseOwner(xml), fingerprint, diskPaths: [], ...(liveSeed ? { liveSeed } : {}) };
}

const types = (p: ReturnType<typeof plan>) => p.actions.map((a) => a.type);
const run = (d: DesiredVm | undefined, observed: Observed) => plan({ host: 'hv-1', desired: d, observed, fenced: false, now: 0, shutdownGraceMs: 1000 });

test('with a seed folder the VM gets a seed: its path, content hash in the metadata, a read-only disk', () => {
  const d = desired({ cloudInit: { userData: '#cloud-config\nruncmd: [touch /x]\n' } });
  expect(d.seed).toMatchObject({ path: '/state/seeds/hv-1/demo.web.iso', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  expect(d.seed!.files['user-data']).toBe('#cloud-config\nruncmd: [touch /x]\n');
  expect(parseOwner(d.xml)?.seed).toBe(d.seed!.hash);
  expect(fingerprintOf(d.xml).disks).toEqual([{ source: '/state/seeds/hv-1/demo.web.iso', target: 'vda', bus: 'virtio' }]);
  // the content is in no action and not in the domain XML
  expect(d.xml).not.toContain('runcmd');
  expect(resolveDesired({ ...vmOf(), spec: { cpu: 1, memory: '1Gi' } }, { images: {}, volumes: {} }, { ...testCtx, seedDir: undefined }).desired!.seed).toBeUndefined();
});

function vmOf(): VirtualMachineObject {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'demo', uid: UID }, spec: { cpu: 1, memory: '1Gi' } };
}

test('on a real host the default network is user-mode on qemu\'s command line with the VM\'s SSH port, and a guest agent channel', () => {
  const d = desired({}, qemuCtx);
  expect(d.xml).toContain("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>");
  expect(d.xml).not.toContain('<interface');
  expect(d.xml).toContain("<qemu:arg value='user,id=stratus-net0,hostfwd=tcp:127.0.0.1:22013-:22'/>");
  expect(d.xml).toContain("<target type='virtio' name='org.qemu.guest_agent.0'/>");
  // its socket in the VM's console folder, a short path libvirt's own default may not be
  expect(d.xml).toContain("<source mode='bind' path='/c/demo.web/agent.sock'/>");
  expect(d.domain.owner.sshPort).toBe(22013);
  const fp = fingerprintOf(d.xml);
  expect(fp.channels).toEqual(['org.qemu.guest_agent.0']);
  expect(fp.qemuArgs).toHaveLength(4);
  // the test driver keeps <interface type='user'> and has no channel
  expect(desired().xml).toContain("<interface type='user'>");
  expect(fingerprintOf(desired().xml)).toMatchObject({ qemuArgs: [], channels: [] });
  // no port left: the VM waits, saying why
  const r = resolveDesired({ ...vmOf(), metadata: { ...vmOf().metadata, name: 'other' } }, { images: {}, volumes: {} }, qemuCtx);
  expect(r.problem).toMatchObject({ reason: 'NoForwardPort', terminal: false });
});

test('a changed seed or SSH port is drift of the definition', () => {
  const a = desired({ cloudInit: { userData: 'a' } }, qemuCtx);
  const b = desired({ cloudInit: { userData: 'b' } }, qemuCtx);
  expect(fingerprintDiff(fingerprintOf(b.xml), fingerprintOf(a.xml))).toEqual(['seed']);
  ports['demo/web'] = 22014;
  try {
    expect(fingerprintDiff(fingerprintOf(desired({ cloudInit: { userData: 'a' } }, qemuCtx).xml), fingerprintOf(a.xml))).toEqual(['qemuArgs']);
  } finally {
    ports['demo/web'] = 22013;
  }
});

test('the seed is written before the domain is defined and started, and only when its file is not current', () => {
  const d = desired({ cloudInit: { sshAuthorizedKeys: ['ssh-ed25519 AAAA k'] } });
  expect(types(run(d, { volumes: [] }))).toEqual(['writeSeed', 'define', 'start']);
  expect(run(d, { volumes: [] }).actions[0]).toEqual({ type: 'writeSeed', path: d.seed!.path, hash: d.seed!.hash });
  expect(types(run(d, { volumes: [], seed: { path: d.seed!.path } }))).toEqual(['writeSeed', 'define', 'start']);
  expect(types(run(d, { volumes: [], domain: domainOf(d, 'running', d.seed!.hash), seed: { path: d.seed!.path, hash: d.seed!.hash } }))).toEqual([]);
});

test('user data changed under a running domain: seed rewritten, definition repaired, RestartRequired until it boots again', () => {
  const old = desired({ cloudInit: { userData: 'a' } });
  const now = desired({ cloudInit: { userData: 'b' } });
  const p = run(now, { volumes: [], domain: domainOf(now, 'running', old.seed!.hash, old.xml), seed: { path: old.seed!.path, hash: old.seed!.hash } });
  expect(types(p)).toEqual(['writeSeed', 'define']);
  expect(p.restartRequired).toMatchObject({ reason: 'CloudInitChanged' });
  // next reconcile: file and definition current, the running domain still has the old seed
  const later = run(now, { volumes: [], domain: domainOf(now, 'running', old.seed!.hash), seed: { path: now.seed!.path, hash: now.seed!.hash } });
  expect(types(later)).toEqual([]);
  expect(later.restartRequired?.reason).toBe('CloudInitChanged');
  // booted with the new seed, or stopped: nothing to restart for
  expect(run(now, { volumes: [], domain: domainOf(now, 'running', now.seed!.hash), seed: { path: now.seed!.path, hash: now.seed!.hash } }).restartRequired).toBeUndefined();
  expect(run({ ...now, runStrategy: 'Halted' }, { volumes: [], domain: domainOf(now, 'shutoff'), seed: { path: now.seed!.path, hash: now.seed!.hash } }).restartRequired).toBeUndefined();
});

test('removing the VM removes its seed too', () => {
  const d = desired();
  const p = run(undefined, { volumes: [], domain: domainOf(d, 'running', d.seed!.hash), seed: { path: d.seed!.path, hash: d.seed!.hash } });
  expect(types(p)).toEqual(['destroy', 'undefine', 'deleteSeed']);
  expect(types(run(undefined, { volumes: [] }))).toEqual([]);
});

test('status: RestartRequired while the domain runs with an older seed; addresses cleared once it stops', () => {
  const NOW = Date.parse('2024-05-01T12:00:00Z');
  const base: StatusInput = { host: 'hv-1', generation: 2, previous: {}, deleting: false, fenced: false, started: false, now: NOW };
  const restartRequired = { reason: 'CloudInitChanged', message: 'm' };
  const p = { actions: [], intent: 'run' as const, cleanedUp: false, starts: false, restartPending: false, drift: [], restartRequired };
  const running = { uuid: 'u', state: 'running' as const, reason: 'booted' };
  const prev = { ip: '10.0.2.15', interfaces: [{ name: 'default', mac: 'm', ipAddress: '10.0.2.15', ipAddresses: ['10.0.2.15'] }] };
  const a = mergeStatus(prev, computeStatus({ ...base, previous: prev, plan: p, after: running }), NOW);
  expect(a.conditions).toContainEqual(expect.objectContaining({ type: 'RestartRequired', status: 'True', reason: 'CloudInitChanged', observedGeneration: 2 }));
  expect(a.ip).toBe('10.0.2.15');
  const b = mergeStatus(a, computeStatus({ ...base, previous: a, plan: { ...p, restartRequired: undefined }, after: running }), NOW);
  expect(b.conditions!.map((c) => c.type)).toEqual(['Ready']);
  const stopped = mergeStatus(a, computeStatus({ ...base, previous: a, plan: { ...p, intent: 'stop' }, after: { ...running, state: 'shutoff' } }), NOW);
  expect(stopped.interfaces).toBeUndefined();
  expect(stopped.ip).toBeUndefined();
  expect(stopped.conditions!.map((c) => c.type)).toEqual(['Ready']);
});
