// computeStatus()/mergeStatus(): the status the agent writes, even when the sync failed.
import { computeStatus, mergeStatus, type StatusInput } from '../../agents/vm/status';
import type { Plan } from '../../agents/vm/plan';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const base: StatusInput = { host: 'hv-1', generation: 2, previous: {}, deleting: false, fenced: false, started: false, now: NOW };
const runPlan: Plan = { actions: [], intent: 'run', cleanedUp: false, starts: false, restartPending: false, drift: [] };

test('a running domain: Running, Ready True, domain UUID, start time, observed generation', () => {
  const s = computeStatus({ ...base, plan: runPlan, after: { uuid: 'u', state: 'running', reason: 'booted' }, started: true });
  expect(s).toMatchObject({ phase: 'Running', observedGeneration: 2, domainUUID: 'u', startTime: '2024-05-01T12:00:00Z', ready: { status: 'True', reason: 'Running' } });
});

test('a failed action is reported as Ready False with its reason, keeping what is known', () => {
  const s = computeStatus({ ...base, previous: { domainUUID: 'u', startTime: '2024-04-01T00:00:00Z' }, plan: runPlan, error: { reason: 'StartFailed', message: 'start demo.web: boom' } });
  expect(s).toMatchObject({ phase: 'Starting', domainUUID: 'u', startTime: '2024-04-01T00:00:00Z', ready: { status: 'False', reason: 'StartFailed', message: 'start demo.web: boom' } });
  expect(computeStatus({ ...base, problem: { reason: 'ImageNotAvailable', message: 'm', terminal: true } }).phase).toBe('Failed');
});

test('stopped domains say why per run strategy; fenced and deleting override', () => {
  const shutoff = { uuid: 'u', state: 'shutoff' as const, reason: 'destroyed' };
  expect(computeStatus({ ...base, plan: { ...runPlan, intent: 'stop' }, after: shutoff }).ready.reason).toBe('Halted');
  const manual = computeStatus({ ...base, plan: { ...runPlan, intent: 'leave' }, after: shutoff });
  expect(manual).toMatchObject({ phase: 'Stopped', ready: { reason: 'Stopped', message: expect.stringContaining('shutoff (destroyed)') } });
  expect(computeStatus({ ...base, fenced: true, after: shutoff })).toMatchObject({ phase: 'Stopped', ready: { reason: 'Fenced' } });
  // stopped for a drain: the answer the drain controller waits for
  const evicting = { evicting: true, domain: { consoleLog: '/c/demo.web.log' }, volumes: [] } as unknown as NonNullable<StatusInput['desired']>;
  expect(computeStatus({ ...base, desired: evicting, plan: { ...runPlan, intent: 'stop' }, after: shutoff })).toMatchObject({ phase: 'Stopped', ready: { status: 'False', reason: 'Evicted' } });
  expect(computeStatus({ ...base, desired: evicting, plan: { ...runPlan, intent: 'stop' }, after: { ...shutoff, state: 'running' } }).ready.reason).toBe('Stopping');
  expect(computeStatus({ ...base, deleting: true, after: shutoff })).toMatchObject({ phase: 'Terminating', ready: { reason: 'Terminating' } });
});

test('merge keeps other writers\' fields and conditions; lastTransitionTime moves only when status flips', () => {
  const prev = {
    host: 'hv-1', ip: '10.0.0.2',
    conditions: [
      { type: 'Scheduled', status: 'True' as const, reason: 'Scheduled', lastTransitionTime: '2024-01-01T00:00:00Z' },
      { type: 'Ready', status: 'True' as const, reason: 'Running', lastTransitionTime: '2024-02-01T00:00:00Z' },
    ],
  };
  const running = computeStatus({ ...base, plan: runPlan, after: { uuid: 'u', state: 'running', reason: 'booted' } });
  const same = mergeStatus(prev, running, NOW);
  expect(same.host).toBe('hv-1');
  expect(same.ip).toBe('10.0.0.2');
  expect(same.conditions![0]).toEqual(prev.conditions[0]);
  expect(same.conditions![1].lastTransitionTime).toBe('2024-02-01T00:00:00Z');
  const failed = mergeStatus(prev, computeStatus({ ...base, error: { reason: 'StartFailed', message: 'x' } }), NOW);
  expect(failed.conditions![1]).toMatchObject({ status: 'False', reason: 'StartFailed', lastTransitionTime: '2024-05-01T12:00:00Z', observedGeneration: 2 });
  expect(mergeStatus(same, running, NOW + 5000)).toEqual(same);
});
