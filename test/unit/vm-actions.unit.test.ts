// The rules of the VM actions, pure: what start, stop and restart change under each runStrategy
// (api/actions/decide.ts), which request the agent acts on (agents/vm/requests.ts), the domain's
// record of carried-out restarts, and how the agent removes the requests it has done.
import { decide, type ActionRequest } from '../../api/actions/decide';
import { selectRequest, requestApplies } from '../../agents/vm/requests';
import { buildRequestsMark, parseRequestsMark, REQUESTS_NS } from '../../agents/domain';
import { mergeStatus, type AgentStatus } from '../../agents/vm/status';
import type { VirtualMachineObject } from '../../store';
import type { StateChangeRequest, VirtualMachineStatus } from '../../schemas/types.gen';
import { hasCode, ErrorCode } from '../../errors';

const UID = 'b3c1e2a4-0000-4000-8000-000000000001';
type Strategy = 'Always' | 'RerunOnFailure' | 'Halted' | 'Manual';

function vm(runStrategy: Strategy, status: VirtualMachineStatus = {}, deleting = false): VirtualMachineObject {
  return {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
    metadata: { name: 'web', namespace: 'demo', uid: UID, generation: 4, ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
    spec: { cpu: 1, memory: '1Gi', runStrategy },
    status,
  };
}

const req = (action: ActionRequest['action'], extra: Partial<ActionRequest> = {}): ActionRequest => ({ action, id: `id-${action}`, now: '2024-05-01T12:00:00Z', user: 'alice', ...extra });
const pending = (action: StateChangeRequest['action'], id = `p-${action}`): StateChangeRequest => ({ action, uid: UID, id, requestTime: '2024-05-01T11:00:00Z' });

/** The 409's message, or the decision. */
function attempt(v: VirtualMachineObject, r: ActionRequest): ReturnType<typeof decide> | string {
  try {
    return decide(v, r);
  } catch (err) {
    expect(hasCode(err, ErrorCode.Conflict)).toBe(true);
    return (err as Error).message;
  }
}

describe('start', () => {
  test('Halted becomes Always (a spec change); a waiting stop is dropped', () => {
    const d = decide(vm('Halted', { phase: 'Stopped', stateChangeRequests: [pending('Stop')] }), req('start'));
    expect(d.next.spec.runStrategy).toBe('Always');
    expect(d.next.status?.stateChangeRequests).toBeUndefined();
    expect(d.message).toBe('runStrategy changed from Halted to Always: the VM will start');
  });

  test('Manual gets a Start request with the VM uid, an id, the time and the user', () => {
    const d = decide(vm('Manual', { phase: 'Stopped' }), req('start'));
    expect(d.next.spec.runStrategy).toBe('Manual');
    expect(d.next.status?.stateChangeRequests).toEqual([{ action: 'Start', uid: UID, id: 'id-start', requestTime: '2024-05-01T12:00:00Z', user: 'alice' }]);
  });

  test('a running Always VM, a running Manual one, or one about to run: 409 saying why', () => {
    expect(attempt(vm('Always', { phase: 'Running' }), req('start'))).toBe('Operation cannot be fulfilled on virtualmachines.stratuslab.eu "web": VM is already running (runStrategy Always keeps it running)');
    expect(attempt(vm('Always', { phase: 'Pending' }), req('start'))).toMatch(/runStrategy Always starts the VM by itself \(it is Pending\)/);
    expect(attempt(vm('Manual', { phase: 'Running' }), req('start'))).toMatch(/: VM is already running$/);
    expect(attempt(vm('Manual', { phase: 'Stopped', stateChangeRequests: [pending('Start')] }), req('start'))).toMatch(/VM is already running once its 1 waiting request\(s\) are carried out/);
  });

  test('RerunOnFailure: a start request after a clean shutdown; 409 while it runs or restarts by itself', () => {
    expect((attempt(vm('RerunOnFailure', { phase: 'Stopped' }), req('start')) as { next: VirtualMachineObject }).next.status?.stateChangeRequests?.[0].action).toBe('Start');
    expect(attempt(vm('RerunOnFailure', { phase: 'Running' }), req('start'))).toMatch(/VM is already running/);
    expect(attempt(vm('RerunOnFailure', { phase: 'Failed' }), req('start'))).toMatch(/restarts the VM by itself after a failure \(it is Failed\)/);
  });
});

describe('stop', () => {
  test('Always and RerunOnFailure become Halted; a grace period goes to the agent as a Stop request', () => {
    for (const s of ['Always', 'RerunOnFailure'] as const) {
      const d = decide(vm(s, { phase: 'Running', stateChangeRequests: [pending('Restart')] }), req('stop'));
      expect(d.next.spec.runStrategy).toBe('Halted');
      expect(d.next.status?.stateChangeRequests).toBeUndefined(); // the waiting restart is moot
      expect(d.message).toBe(`runStrategy changed from ${s} to Halted: the VM will stop`);
    }
    const graced = decide(vm('Always', { phase: 'Running' }), req('stop', { gracePeriodSeconds: 0 }));
    expect(graced.next.status?.stateChangeRequests).toEqual([{ action: 'Stop', uid: UID, id: 'id-stop', requestTime: '2024-05-01T12:00:00Z', gracePeriodSeconds: 0, user: 'alice' }]);
  });

  test('Halted: 409 when stopped; while it shuts down, only a shorter grace is accepted', () => {
    expect(attempt(vm('Halted', { phase: 'Stopped' }), req('stop'))).toMatch(/VM is not running \(runStrategy Halted, Stopped\)/);
    expect(attempt(vm('Halted', { phase: 'Running' }), req('stop'))).toMatch(/already stopping \(runStrategy Halted\): give gracePeriodSeconds/);
    const d = decide(vm('Halted', { phase: 'Running' }), req('stop', { gracePeriodSeconds: 5 }));
    expect(d.next.status?.stateChangeRequests?.map((r) => [r.action, r.gracePeriodSeconds])).toEqual([['Stop', 5]]);
  });

  test('Manual: a Stop request replaces what waits; 409 when it is (or will be) stopped', () => {
    const d = decide(vm('Manual', { phase: 'Stopped', stateChangeRequests: [pending('Start')] }), req('stop'));
    expect(d.next.status?.stateChangeRequests?.map((r) => r.action)).toEqual(['Stop']);
    expect(attempt(vm('Manual', { phase: 'Stopped' }), req('stop'))).toMatch(/: VM is not running$/);
    expect(attempt(vm('Manual', { phase: 'Running', stateChangeRequests: [pending('Stop')] }), req('stop'))).toMatch(/VM is not running once its 1 waiting request/);
  });
});

describe('restart', () => {
  test('any running strategy gets a Restart request, after those waiting', () => {
    for (const s of ['Always', 'RerunOnFailure', 'Manual'] as const) {
      const d = decide(vm(s, { phase: 'Running' }), req('restart', { gracePeriodSeconds: 10 }));
      expect(d.next.spec.runStrategy).toBe(s);
      expect(d.next.status?.stateChangeRequests).toEqual([{ action: 'Restart', uid: UID, id: 'id-restart', requestTime: '2024-05-01T12:00:00Z', gracePeriodSeconds: 10, user: 'alice' }]);
    }
    const queued = decide(vm('Manual', { phase: 'Stopped', stateChangeRequests: [pending('Start')] }), req('restart'));
    expect(queued.next.status?.stateChangeRequests?.map((r) => r.action)).toEqual(['Start', 'Restart']);
  });

  test('a stopped VM, a Halted one, a second restart: 409', () => {
    expect(attempt(vm('Always', { phase: 'Stopped' }), req('restart'))).toMatch(/VM is not running \(Stopped\): start it instead/);
    expect(attempt(vm('Halted', { phase: 'Running' }), req('restart'))).toMatch(/runStrategy Halted does not allow a restart/);
    expect(attempt(vm('Always', { phase: 'Running', stateChangeRequests: [pending('Restart')] }), req('restart'))).toMatch(/a restart is already waiting/);
  });
});

test('a VM being deleted refuses every action; requests of an earlier VM of the same name are dropped; at most 8 wait', () => {
  for (const a of ['start', 'stop', 'restart'] as const) expect(attempt(vm('Manual', { phase: 'Running' }, true), req(a))).toMatch(/VM is being deleted/);
  const stale = { ...pending('Stop'), uid: 'older' };
  const d = decide(vm('Manual', { phase: 'Running', stateChangeRequests: [stale] }), req('restart'));
  expect(d.next.status?.stateChangeRequests?.map((r) => r.uid)).toEqual([UID]);
  const many = Array.from({ length: 8 }, (_, i) => pending(i % 2 === 0 ? 'Restart' : 'Start', `r${i}`));
  expect(attempt(vm('Manual', { phase: 'Running', stateChangeRequests: many.slice(0, 7).concat(pending('Start', 'x')) }), req('restart'))).toMatch(/too many waiting/);
});

describe('the agent', () => {
  test('acts on the oldest request that applies; the ones before it are done or moot', () => {
    const list = [pending('Start', 'a'), pending('Stop', 'b'), pending('Restart', 'c'), pending('Start', 'd')];
    expect(selectRequest(list, 'Manual', () => false)).toEqual({ head: list[0], drop: [], more: 3 });
    expect(selectRequest(list, 'Manual', (id) => id === 'a')).toEqual({ head: list[1], drop: ['a'], more: 2 });
    // Always: a Start or a Stop means nothing, a Restart does
    expect(selectRequest(list, 'Always', () => false)).toEqual({ head: list[2], drop: ['a', 'b'], more: 1 });
    expect(selectRequest(list, 'Halted', () => false)).toEqual({ head: list[1], drop: ['a'], more: 2 });
    expect(selectRequest([], 'Manual', () => false)).toEqual({ drop: [], more: 0 });
    expect(requestApplies('Stop', 'RerunOnFailure')).toBe(false);
    expect(requestApplies('Start', 'RerunOnFailure')).toBe(true);
  });

  test('the domain records carried-out restarts in a metadata element of its own', () => {
    const el = buildRequestsMark(['r1', 'r2']);
    expect(el).toBe("<requests done='r1 r2'/>");
    // as libvirt writes it back in the domain XML, and as getMetadata returns it
    expect(parseRequestsMark(`<domain><metadata><stratusreq:requests xmlns:stratusreq="${REQUESTS_NS}" done="r1 r2"/></metadata></domain>`)).toEqual(['r1', 'r2']);
    expect(parseRequestsMark(el)).toEqual(['r1', 'r2']);
    expect(parseRequestsMark('<domain><metadata><x:requests xmlns:x="urn:other" done="z"/></metadata></domain>')).toEqual([]);
    expect(buildRequestsMark(Array.from({ length: 12 }, (_, i) => `id${i}`))).toBe(`<requests done='${Array.from({ length: 8 }, (_, i) => `id${i + 4}`).join(' ')}'/>`);
  });

  test('removes only the requests it carried out from the newest status, keeping those added since', () => {
    const s: AgentStatus = { phase: 'Running', observedGeneration: 4, ready: { status: 'True', reason: 'Running', message: 'ok' }, requests: { uid: UID, done: ['a'] } };
    const prev: VirtualMachineStatus = { stateChangeRequests: [pending('Start', 'a'), pending('Stop', 'new'), { ...pending('Stop', 'old'), uid: 'older' }] };
    expect(mergeStatus(prev, s, 0).stateChangeRequests?.map((r) => r.id)).toEqual(['new']);
    expect(mergeStatus({ stateChangeRequests: [pending('Start', 'a')] }, s, 0)).not.toHaveProperty('stateChangeRequests');
    expect(mergeStatus({ stateChangeRequests: [pending('Start', 'b')] }, { ...s, requests: undefined }, 0).stateChangeRequests).toHaveLength(1);
  });
});
