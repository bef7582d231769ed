// The failover timings: the new defaults (VMs of a dead agent running elsewhere in under 30 s),
// and the margin rule both processes' settings enforce, with messages naming the variables.
import { loadAgentConfig } from '../../config/agent';
import { checkFailoverTimings, loadControllerConfig } from '../../config/controllers';
import { FAILOVER_DEFAULTS, heartbeatAckBoundMs, minRescheduleMs } from '../../config/failover';

const base = { STRATUS_CONTROLLERS_METRICS: 'off' };

test('the defaults: T_fence 10 s, T_resched 20 s, NotReady 8 s, and they satisfy the margin rule', () => {
  const h = loadControllerConfig(base).hostHealth;
  expect(h).toEqual({ leaseDurationMs: 8000, fenceMs: 10_000, rescheduleMs: 16_000, clockSkewPercent: 1, stopAllowanceMs: 5000 });
  expect(minRescheduleMs(h.fenceMs, h.clockSkewPercent, h.stopAllowanceMs)).toBe(15_100);
  const a = loadAgentConfig({ host: 'hv-1' }, {});
  expect(a).toMatchObject({ fenceAfterMs: 10_000, renewIntervalMs: 2000, heartbeatIntervalMs: 3000 });
  // kill → rescheduled within T_resched + one heartbeat period (plus placement and a start): under 30 s
  expect(FAILOVER_DEFAULTS.rescheduleMs + FAILOVER_DEFAULTS.heartbeatIntervalMs).toBeLessThan(30_000);
});

test('T_resched shorter than T_fence x (1 + skew) + allowance is refused, naming both variables', () => {
  expect(() => loadControllerConfig({ ...base, STRATUS_FENCE_MS: '10000', STRATUS_RESCHEDULE_MS: '15000' }))
    .toThrow(/STRATUS_RESCHEDULE_MS \(15000\) is too short for STRATUS_FENCE_MS \(10000\).*15100 ms/);
  expect(loadControllerConfig({ ...base, STRATUS_FENCE_MS: '10000', STRATUS_RESCHEDULE_MS: '15100' }).hostHealth.rescheduleMs).toBe(15_100);
  // the skew and the allowance count
  expect(loadControllerConfig({ ...base, STRATUS_RESCHEDULE_MS: '16000', STRATUS_CLOCK_SKEW_PERCENT: '10' }).hostHealth.rescheduleMs).toBe(16_000);
  expect(() => loadControllerConfig({ ...base, STRATUS_RESCHEDULE_MS: '16000', STRATUS_CLOCK_SKEW_PERCENT: '11' })).toThrow(/STRATUS_RESCHEDULE_MS \(16000\)/);
  expect(() => loadControllerConfig({ ...base, STRATUS_FENCE_STOP_ALLOWANCE_MS: '12000' })).toThrow(/STRATUS_FENCE_STOP_ALLOWANCE_MS 12000/);
  // the old rule's example: T_resched barely above T_fence
  expect(() => loadControllerConfig({ ...base, STRATUS_FENCE_MS: '30000', STRATUS_RESCHEDULE_MS: '31000' })).toThrow(/too short for STRATUS_FENCE_MS/);
});

test('the margin always covers the heartbeat acknowledgement bound, even with no stop allowance', () => {
  expect(heartbeatAckBoundMs(10_000)).toBe(5000);
  expect(heartbeatAckBoundMs(4000)).toBe(2000);
  expect(minRescheduleMs(4000, 0, 0)).toBe(6000);
  expect(() => checkFailoverTimings({ leaseDurationMs: 1000, fenceMs: 4000, rescheduleMs: 5999, clockSkewPercent: 0, stopAllowanceMs: 0 })).toThrow(/heartbeat ack bound 2000/);
});

test('nonsense is refused with the variable named', () => {
  expect(() => loadControllerConfig({ ...base, STRATUS_LEASE_MS: '30000' })).toThrow(/STRATUS_LEASE_MS \(30000\) must not exceed STRATUS_RESCHEDULE_MS/);
  expect(() => loadControllerConfig({ ...base, STRATUS_CLOCK_SKEW_PERCENT: '1.5' })).toThrow(/STRATUS_CLOCK_SKEW_PERCENT must be a non-negative integer/);
  expect(() => loadControllerConfig({ ...base, STRATUS_CLOCK_SKEW_PERCENT: '60', STRATUS_RESCHEDULE_MS: '60000' })).toThrow(/STRATUS_CLOCK_SKEW_PERCENT must be at most 50/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_FENCE_MS: '4000', STRATUS_HEARTBEAT_MS: '2500' })).toThrow(/STRATUS_HEARTBEAT_MS \(2500\) plus the heartbeat ack bound \(2000\)/);
  expect(() => loadAgentConfig({ host: 'h' }, { STRATUS_FENCE_MS: '5000', STRATUS_LEASE_RENEW_MS: '5000' })).toThrow(/STRATUS_LEASE_RENEW_MS 5000.*STRATUS_FENCE_MS 5000/);
});
