// plan(): the pure decision of what to do to a VM's domain and volumes.
import type { VirtualMachineObject } from '../../store';
import type { VirtualMachineSpec, VirtualMachineStatus } from '../../schemas/types.gen';
import { fingerprintOf, buildDomainXml } from '../../agents/domain';
import { resolveDesired, type DesiredVm, type HostContext } from '../../agents/vm/desired';
import { plan, type Observed, type ObservedDomain, type PlanInput } from '../../agents/vm/plan';

const ctx: HostContext = { host: 'hv-1', virtType: 'test', consoleDir: '/c', pool: 'default', poolPaths: { default: '/p' }, defaultDiskBytes: 1 << 30 };
const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';

function desired(spec: Partial<VirtualMachineSpec> = {}, status: VirtualMachineStatus = {}): DesiredVm {
  const vm: VirtualMachineObject = {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'demo', uid: UID, generation: 1 },
    spec: { cpu: 1, memory: '1Gi', disks: [{ name: 'data', size: '1Gi' }], ...spec },
    status: { host: 'hv-1', ...status },
  };
  const r = resolveDesired(vm, { images: {}, volumes: {} }, ctx);
  if (!r.desired) throw new Error(r.problem.message);
  return r.desired;
}

function domainOf(d: DesiredVm, state: ObservedDomain['state'], reason = 'unknown', xml = d.xml): ObservedDomain {
  const fingerprint = fingerprintOf(xml);
  return { name: d.domain.name, uuid: d.uid, state, reason, owner: d.domain.owner, fingerprint, diskPaths: fingerprint.disks.map((x) => x.source!) };
}

function volumesOf(d: DesiredVm): Observed['volumes'] {
  return d.volumes.map((v) => ({ pool: v.pool, name: v.name, path: v.path }));
}

function input(d: DesiredVm | undefined, observed: Observed, extra: Partial<PlanInput> = {}): PlanInput {
  return { host: 'hv-1', desired: d, observed, fenced: false, now: 10_000, shutdownGraceMs: 1000, ...extra };
}

const types = (p: ReturnType<typeof plan>) => p.actions.map((a) => a.type);

test('a new VM: create its volumes, define and start', () => {
  const d = desired();
  const p = plan(input(d, { volumes: [] }));
  expect(types(p)).toEqual(['createVolume', 'define', 'start']);
  expect(p.starts).toBe(true);
  expect(p.intent).toBe('run');
});

test('a converged running VM needs nothing', () => {
  const d = desired();
  expect(plan(input(d, { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) })).actions).toEqual([]);
});

test('Always restarts a stopped domain whatever stopped it; a crashed one is destroyed first', () => {
  const d = desired();
  expect(types(plan(input(d, { domain: domainOf(d, 'shutoff', 'destroyed'), volumes: volumesOf(d) })))).toEqual(['start']);
  expect(types(plan(input(d, { domain: domainOf(d, 'crashed'), volumes: volumesOf(d) })))).toEqual(['destroy', 'start']);
  expect(types(plan(input(d, { domain: domainOf(d, 'paused', 'user'), volumes: volumesOf(d) })))).toEqual(['resume']);
});

test('Halted asks the guest to shut down, then destroys it after the grace period', () => {
  const d = desired({ runStrategy: 'Halted' });
  const obs: Observed = { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) };
  const first = plan(input(d, obs));
  expect(types(first)).toEqual(['shutdown']);
  expect(first.requeueAfterMs).toBe(1000);
  const waiting = plan(input(d, { ...obs, shutdownRequestedAt: 9500 }));
  expect(waiting.actions).toEqual([]);
  expect(waiting.requeueAfterMs).toBe(500);
  const forced = plan(input(d, { ...obs, shutdownRequestedAt: 8000 }));
  expect(types(forced)).toEqual(['destroy']);
  expect(forced.forcedAfterMs).toBe(1000); // the grace of input()
  expect(waiting.forcedAfterMs).toBeUndefined();
  // A new Halted VM is defined but not started.
  expect(types(plan(input(d, { volumes: [] })))).toEqual(['createVolume', 'define']);
});

test('Evicting=True (a drain) stops the VM whatever its runStrategy, as Halted does', () => {
  const d = desired({ runStrategy: 'Always' }, { conditions: [{ type: 'Evicting', status: 'True', reason: 'HostDrained' }] });
  expect(d.evicting).toBe(true);
  const first = plan(input(d, { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) }));
  expect(first.intent).toBe('stop');
  expect(types(first)).toEqual(['shutdown']);
  expect(plan(input(d, { domain: domainOf(d, 'shutoff', 'shutdown'), volumes: volumesOf(d) })).actions).toEqual([]);
  expect(desired({}, { conditions: [{ type: 'Evicting', status: 'False', reason: 'HostDrained' }] }).evicting).toBe(false);
});

test('Manual is never started or stopped by the agent on its own: a new VM is defined, not started', () => {
  const p0 = plan(input(desired({ runStrategy: 'Manual' }), { volumes: [] }));
  expect(types(p0)).toEqual(['createVolume', 'define']);
  expect(p0.intent).toBe('leave');
  const started = desired({ runStrategy: 'Manual' }, { startTime: '2024-01-01T00:00:00Z', domainUUID: UID });
  const p = plan(input(started, { domain: domainOf(started, 'shutoff', 'destroyed'), volumes: volumesOf(started) }));
  expect(p.actions).toEqual([]);
  expect(p.intent).toBe('leave');
  expect(plan(input(started, { domain: domainOf(started, 'running', 'booted'), volumes: volumesOf(started) })).actions).toEqual([]);
});

describe('state change requests', () => {
  const request = (action: 'Start' | 'Stop' | 'Restart', gracePeriodSeconds?: number) => ({ action, uid: UID, id: `r-${action}`, requestTime: '2024-01-01T00:00:00Z', ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) });
  const manual = () => desired({ runStrategy: 'Manual' }, { startTime: '2024-01-01T00:00:00Z', domainUUID: UID });

  test('Start boots a stopped Manual domain (done once it runs); a running one is done already', () => {
    const d = manual();
    const p = plan(input(d, { domain: domainOf(d, 'shutoff', 'shutdown'), volumes: volumesOf(d) }, { request: request('Start') }));
    expect(types(p)).toEqual(['start']);
    expect(p.intent).toBe('run');
    expect(p.request).toEqual({ id: 'r-Start', action: 'Start', done: true });
    const running = plan(input(d, { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) }, { request: request('Start') }));
    expect(running.actions).toEqual([]);
    expect(running.request?.done).toBe(true);
  });

  test('Stop shuts the guest down and is done once the domain is off; its grace period replaces the agent\'s; 0 destroys at once', () => {
    const d = manual();
    const obs: Observed = { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) };
    const first = plan(input(d, obs, { request: request('Stop', 30) }));
    expect(types(first)).toEqual(['shutdown']);
    expect(first.requeueAfterMs).toBe(30_000);
    expect(first.request?.done).toBe(false);
    const late = plan(input(d, { ...obs, shutdownRequestedAt: 10_000 - 30_000 }, { request: request('Stop', 30) }));
    expect(types(late)).toEqual(['destroy']);
    expect(late.request?.done).toBe(true);
    expect(types(plan(input(d, obs, { request: request('Stop', 0) })))).toEqual(['destroy']);
    const off = plan(input(d, { domain: domainOf(d, 'shutoff', 'shutdown'), volumes: volumesOf(d) }, { request: request('Stop') }));
    expect(off.actions).toEqual([]);
    expect(off.request?.done).toBe(true);
  });

  test('Restart under Always: shutdown first, then start and record the request on the domain; grace 0 does both at once', () => {
    const d = desired({}, { startTime: '2024-01-01T00:00:00Z', domainUUID: UID });
    const obs: Observed = { domain: domainOf(d, 'running', 'booted'), volumes: volumesOf(d) };
    const first = plan(input(d, obs, { request: request('Restart') }));
    expect(types(first)).toEqual(['shutdown']);
    expect(first.intent).toBe('stop');
    expect(first.request?.done).toBe(false);
    const off = plan(input(d, { domain: { ...domainOf(d, 'shutoff', 'shutdown'), honouredRequests: ['older'] }, volumes: volumesOf(d) }, { request: request('Restart') }));
    expect(off.actions).toEqual([{ type: 'start' }, { type: 'markRequests', ids: ['older', 'r-Restart'] }]);
    expect(off.request?.done).toBe(true);
    const now = plan(input(d, obs, { request: request('Restart', 0) }));
    expect(types(now)).toEqual(['destroy', 'start', 'markRequests']);
    expect(now.starts).toBe(true);
    expect(now.intent).toBe('run');
  });

  test('a drain or a fence wins over any request', () => {
    const d = desired({ runStrategy: 'Manual' }, { conditions: [{ type: 'Evicting', status: 'True', reason: 'HostDrained' }] });
    const p = plan(input(d, { domain: domainOf(d, 'shutoff', 'shutdown'), volumes: volumesOf(d) }, { request: request('Start') }));
    expect(p.actions).toEqual([]);
    expect(p.request).toBeUndefined();
    const m = manual();
    const fenced = plan(input(m, { domain: domainOf(m, 'shutoff', 'shutdown'), volumes: volumesOf(m) }, { request: request('Start'), fenced: true }));
    expect(fenced.actions).toEqual([]);
  });
});

test('RerunOnFailure restarts after a failure but not after a clean guest shutdown', () => {
  const d = desired({ runStrategy: 'RerunOnFailure' }, { startTime: '2024-01-01T00:00:00Z', domainUUID: UID });
  expect(types(plan(input(d, { domain: domainOf(d, 'shutoff', 'crashed'), volumes: volumesOf(d) })))).toEqual(['start']);
  expect(types(plan(input(d, { domain: domainOf(d, 'shutoff', 'destroyed'), volumes: volumesOf(d) })))).toEqual(['start']);
  const done = plan(input(d, { domain: domainOf(d, 'shutoff', 'shutdown'), volumes: volumesOf(d) }));
  expect(done.actions).toEqual([]);
  expect(done.intent).toBe('leave');
});

test('a definition changed behind the agent\'s back is redefined; effective at the next restart when running', () => {
  const d = desired();
  const tampered = d.xml.replace(/<vcpu([^>]*)>1<\/vcpu>/, '<vcpu$1>4</vcpu>');
  const p = plan(input(d, { domain: domainOf(d, 'running', 'booted', tampered), volumes: volumesOf(d) }));
  expect(p.actions).toEqual([{ type: 'define', xml: d.xml, why: 'repair' }]);
  expect(p.drift).toEqual(['vcpus']);
  expect(p.restartPending).toBe(true);
});

test('gone, unbound or deleted: destroy, undefine and delete its own volumes only', () => {
  const d = desired();
  const foreignVolume = { pool: 'default', name: 'someone-elses', path: '/p/someone-elses' };
  const p = plan(input(undefined, { domain: domainOf(d, 'running'), volumes: [...volumesOf(d), foreignVolume] }));
  expect(p.actions).toEqual([{ type: 'destroy' }, { type: 'undefine' }, { type: 'deleteVolume', pool: 'default', name: d.volumes[0].name }]);
  expect(p.cleanedUp).toBe(true);
  expect(plan(input(undefined, { volumes: [] })).actions).toEqual([]);
});

test('a domain the agent does not own is never touched, in any case', () => {
  const d = desired();
  const foreign: ObservedDomain = { ...domainOf(d, 'running'), owner: undefined };
  const blocked = plan(input(d, { domain: foreign, volumes: [] }));
  expect(blocked.actions).toEqual([]);
  expect(blocked.blocked?.reason).toBe('DomainNameConflict');
  expect(plan(input(undefined, { domain: foreign, volumes: [] })).actions).toEqual([]);
  const otherHost: ObservedDomain = { ...domainOf(d, 'running'), owner: { ...d.domain.owner, host: 'hv-2' } };
  expect(plan(input(undefined, { domain: otherHost, volumes: [] })).actions).toEqual([]);
});

test('an earlier VM with the same name is removed before the new one is created', () => {
  const d = desired();
  const oldUid = '11111111-8d3b-11ee-b9d1-0242ac120002';
  const old = domainOf(d, 'running', 'booted', buildDomainXml({ ...d.domain, uuid: oldUid, owner: { ...d.domain.owner, uid: oldUid } }));
  old.owner = { ...d.domain.owner, uid: oldUid };
  const oldVol = { pool: 'default', name: 'stratus.demo.web.data.11111111', path: '/p/stratus.demo.web.data.11111111' };
  expect(types(plan(input(d, { domain: old, volumes: [oldVol] })))).toEqual(['destroy', 'undefine', 'deleteVolume', 'createVolume', 'define', 'start']);
});

test('fenced: destroy a running domain, create and start nothing', () => {
  const d = desired();
  const p = plan(input(d, { domain: domainOf(d, 'running'), volumes: volumesOf(d) }, { fenced: true }));
  expect(p.actions).toEqual([{ type: 'destroy' }]);
  expect(p.intent).toBe('fenced');
  expect(plan(input(d, { volumes: [] }, { fenced: true })).actions).toEqual([]);
});
