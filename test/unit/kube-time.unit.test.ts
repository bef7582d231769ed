// kube/time.ts: the one way timestamps are written (creationTimestamp, lastTransitionTime, startTime).
import { isoSeconds } from '../../kube/time';
import { setCondition } from '../../kube/conditions';

test('RFC 3339 in UTC, truncated to the second, without a fraction', () => {
  expect(isoSeconds(Date.UTC(2024, 4, 1, 12, 0, 0))).toBe('2024-05-01T12:00:00Z');
  expect(isoSeconds(Date.UTC(2024, 4, 1, 12, 0, 0, 999))).toBe('2024-05-01T12:00:00Z');
  expect(isoSeconds(0)).toBe('1970-01-01T00:00:00Z');
});

test('conditions carry it as lastTransitionTime, kept while the status does not change', () => {
  const t0 = Date.UTC(2024, 4, 1, 12, 0, 0, 250);
  const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting' }, t0);
  expect(a).toEqual([{ type: 'Ready', status: 'False', reason: 'Starting', lastTransitionTime: '2024-05-01T12:00:00Z' }]);
  const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'StillStarting' }, t0 + 60_000);
  expect(b[0].lastTransitionTime).toBe('2024-05-01T12:00:00Z');
  expect(setCondition(b, { type: 'Ready', status: 'True', reason: 'Running' }, t0 + 61_000)[0].lastTransitionTime).toBe('2024-05-01T12:01:01Z');
});
