// Events without Cassandra: the correlator's counts, aggregation and rate limit on a fake clock,
// the rules of kube/events.ts (names, safe messages, ages), the agent's VM events, the Table cells
// of `kubectl get events` and the Events section of `stratus describe`.
import { describeEvents } from '../../cli/commands/describe';
import { eventCells } from '../../api/events/table';
import { vmEvents, type VmEventInput } from '../../agents/vm/events';
import {
  EVENT_FIELDS, aggregationKey, eventInterval, eventName, messageKind, objectNameOf, referenceTo, safeMessage, type EventObject,
} from '../../kube/events';
import { matchesFields, parseFieldSelector } from '../../kube/selectors';
import { FakeClock } from '../../runtime';
import { COMBINED_PREFIX, EventCorrelator, toEvent, type LoggedEvent } from '../../runtime/events';

const reporter = { component: 'stratus-agent', host: 'hv-1', controller: 'stratuslab.eu/agent', instance: 'hv-1' };
const vm = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web-1', namespace: 'demo', uid: 'u-1' } };
const ref = referenceTo(vm);

function logged(c: ReturnType<EventCorrelator['correlate']>): LoggedEvent {
  if ('dropped' in c) throw new Error(`dropped: ${c.dropped}`);
  return c.event;
}

describe('EventCorrelator', () => {
  test('a repeated event is one event whose count and last time grow; its first time stays', () => {
    const clock = new FakeClock();
    const c = new EventCorrelator({ clock });
    const a = logged(c.correlate(reporter, ref, 'Normal', 'Started', 'started the domain on host hv-1'));
    clock.advance(5000);
    const b = logged(c.correlate(reporter, ref, 'Normal', 'Started', 'started the domain on host hv-1'));
    expect(b).toBe(a);
    expect(b).toMatchObject({ count: 2, first: clock.now() - 5000, last: clock.now(), namespace: 'demo' });
    expect(b.name).toMatch(/^web-1\.[0-9a-f]{16}$/);
  });

  test('messages that differ only in numbers aggregate (their kind); other reasons, types and objects do not', () => {
    const c = new EventCorrelator({ clock: new FakeClock() });
    const a = logged(c.correlate(reporter, ref, 'Warning', 'NotReady', 'no heartbeat seen for 31s'));
    const b = logged(c.correlate(reporter, ref, 'Warning', 'NotReady', 'no heartbeat seen for 45s'));
    expect(b.name).toBe(a.name);
    expect(b).toMatchObject({ count: 2, message: 'no heartbeat seen for 45s' });
    expect(logged(c.correlate(reporter, ref, 'Warning', 'Crashed', 'no heartbeat seen for 45s')).name).not.toBe(a.name);
    expect(logged(c.correlate(reporter, ref, 'Normal', 'NotReady', 'no heartbeat seen for 45s')).name).not.toBe(a.name);
    expect(logged(c.correlate(reporter, referenceTo({ ...vm, metadata: { ...vm.metadata, uid: 'u-2' } }), 'Warning', 'NotReady', 'no heartbeat seen for 45s')).name).not.toBe(a.name);
  });

  test('past 10 different messages for one object and reason, the others are combined into one event', () => {
    const c = new EventCorrelator({ clock: new FakeClock(), burst: 100 });
    const names = new Set<string>();
    for (const w of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']) names.add(logged(c.correlate(reporter, ref, 'Warning', 'StartFailed', `error ${w}`)).name);
    expect(names.size).toBe(10);
    const k = logged(c.correlate(reporter, ref, 'Warning', 'StartFailed', 'error k'));
    const l = logged(c.correlate(reporter, ref, 'Warning', 'StartFailed', 'error l'));
    expect(l.name).toBe(k.name);
    expect(l).toMatchObject({ count: 2, message: `${COMBINED_PREFIX}error l` });
    expect(names.has(k.name)).toBe(false);
  });

  test('the rate limit per reporter and object: a burst of 25, then one more every 5 minutes; other objects are not limited', () => {
    const clock = new FakeClock();
    const c = new EventCorrelator({ clock });
    const outcomes = Array.from({ length: 30 }, (_, i) => c.correlate(reporter, ref, 'Normal', 'Started', `attempt ${i}`));
    expect(outcomes.filter((o) => 'dropped' in o)).toHaveLength(5);
    expect(outcomes.slice(0, 25).every((o) => 'event' in o)).toBe(true);
    const other = referenceTo({ ...vm, metadata: { ...vm.metadata, name: 'web-2' } });
    expect('event' in c.correlate(reporter, other, 'Normal', 'Started', 'x')).toBe(true);
    expect(c.correlate(reporter, ref, 'Normal', 'Started', 'x')).toEqual({ dropped: 'rate-limited' });
    clock.advance(300_000);
    expect('event' in c.correlate(reporter, ref, 'Normal', 'Started', 'x')).toBe(true);
    expect(c.correlate(reporter, ref, 'Normal', 'Started', 'x')).toEqual({ dropped: 'rate-limited' });
  });

  test('toEvent writes the core/v1 shape kubectl reads', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const e = toEvent(logged(new EventCorrelator({ clock }).correlate(reporter, ref, 'Normal', 'Started', 'started')));
    expect(e).toMatchObject({
      apiVersion: 'v1', kind: 'Event', metadata: { namespace: 'demo', creationTimestamp: '2026-01-01T00:00:00Z' },
      involvedObject: { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', namespace: 'demo', name: 'web-1', uid: 'u-1' },
      reason: 'Started', message: 'started', source: { component: 'stratus-agent', host: 'hv-1' },
      firstTimestamp: '2026-01-01T00:00:00Z', lastTimestamp: '2026-01-01T00:00:00Z', count: 1, type: 'Normal', eventTime: null,
      reportingComponent: 'stratuslab.eu/agent', reportingInstance: 'hv-1',
    });
  });
});

describe('kube/events', () => {
  test('names are the object name and a stable hash of the aggregation key', () => {
    const key = aggregationKey(ref, reporter, 'Normal', 'Started', 'started on hv-1');
    expect(eventName('web-1', key)).toBe(eventName('web-1', aggregationKey(ref, reporter, 'Normal', 'Started', 'started on hv-2')));
    expect(objectNameOf(eventName('web-1', key))).toBe('web-1');
    expect(messageKind('took 12s, 3 tries')).toBe('took #s, # tries');
  });

  test('messages never keep credentials or query strings of URLs, nor control characters, and are capped', () => {
    expect(safeMessage('download https://bob:s3cret@images.example/a.qcow2?token=abc failed')).toBe('download https://images.example/a.qcow2 failed');
    expect(safeMessage('line1\nline2\u0007')).toBe('line1 line2');
    expect(safeMessage('x'.repeat(5000))).toHaveLength(1024);
  });

  test('the Age of describe: the first time, or "last (xN over first)"', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(eventInterval({ firstTimestamp: '2026-01-01T00:55:00Z', lastTimestamp: '2026-01-01T00:55:00Z', count: 1 }, now)).toBe('5m');
    expect(eventInterval({ firstTimestamp: '2026-01-01T00:50:00Z', lastTimestamp: '2026-01-01T00:59:30Z', count: 3 }, now)).toBe('30s (x3 over 10m)');
  });

  test('field selectors name the fields kube-apiserver supports on Events', () => {
    const e = toEvent(logged(new EventCorrelator({ clock: new FakeClock() }).correlate(reporter, ref, 'Warning', 'Crashed', 'crashed'))) as EventObject;
    const sel = parseFieldSelector('involvedObject.name=web-1,involvedObject.kind=VirtualMachine,involvedObject.uid=u-1,type=Warning,source=stratus-agent', EVENT_FIELDS);
    expect(matchesFields(sel, e, EVENT_FIELDS)).toBe(true);
    expect(matchesFields(parseFieldSelector('reason!=Crashed', EVENT_FIELDS), e, EVENT_FIELDS)).toBe(false);
    expect(() => parseFieldSelector('spec.cpu=1', EVENT_FIELDS)).toThrow(/field label not supported: spec\.cpu/);
  });
});

describe('agent VM events', () => {
  const base: VmEventInput = {
    host: 'hv-1', domain: 'demo.web-1', previousPhase: 'Pending',
    next: { phase: 'Running', observedGeneration: 1, ready: { status: 'True', reason: 'Running', message: 'runs' } },
    plan: { actions: [], intent: 'run', cleanedUp: false, starts: false, restartPending: false, drift: [] },
    observed: { volumes: [] }, done: [], started: false,
  };
  const reasons = (i: Partial<VmEventInput>) => vmEvents({ ...base, ...i }).map((e) => `${e.type}/${e.reason}`);

  test('a first start is Created then Started', () => {
    expect(reasons({ done: [{ type: 'define', xml: '', why: 'create' }, { type: 'start' }], started: true })).toEqual(['Normal/Created', 'Normal/Started']);
    expect(reasons({ done: [{ type: 'define', xml: '', why: 'repair' }] })).toEqual([]);
  });

  test('Running to Stopped is Stopped (a Warning when fenced); a crash seen while Running is Crashed', () => {
    const stopped = { phase: 'Stopped' as const, observedGeneration: 1, ready: { status: 'False' as const, reason: 'Halted', message: 'runStrategy is Halted: the domain is stopped' } };
    expect(vmEvents({ ...base, previousPhase: 'Running', next: stopped })).toEqual([{ type: 'Normal', reason: 'Stopped', message: 'runStrategy is Halted: the domain is stopped' }]);
    expect(reasons({ previousPhase: 'Running', next: { ...stopped, ready: { ...stopped.ready, reason: 'Fenced' } } })).toEqual(['Warning/Stopped']);
    const crashed = { name: 'demo.web-1', uuid: 'x', state: 'shutoff' as const, reason: 'crashed', fingerprint: {} as never, diskPaths: [] };
    expect(reasons({ previousPhase: 'Running', observed: { volumes: [], domain: crashed }, plan: { ...base.plan, starts: true }, started: true }))
      .toEqual(['Warning/Crashed', 'Normal/Started']);
    expect(reasons({ previousPhase: 'Stopped', observed: { volumes: [], domain: crashed } })).toEqual([]);
  });

  test('a guest that did not shut down within its grace and was powered off is a ShutdownTimeout Warning', () => {
    const forced = vmEvents({ ...base, plan: { ...base.plan, intent: 'stop', forcedAfterMs: 60_000 }, done: [{ type: 'destroy' }] });
    expect(forced).toEqual([{ type: 'Warning', reason: 'ShutdownTimeout', message: 'the guest did not shut down within 60 s; the domain demo.web-1 on host hv-1 was powered off' }]);
    // planned but not done (the destroy failed): no event yet
    expect(reasons({ plan: { ...base.plan, intent: 'stop', forcedAfterMs: 60_000 } })).toEqual([]);
  });

  test('an image that failed to download is ImageDownloadFailed; a download in progress is no event', () => {
    expect(reasons({ problem: { reason: 'ImageDownloadFailed', message: 'Image debian: HTTP 404; retrying', terminal: false } })).toEqual(['Warning/ImageDownloadFailed']);
    expect(reasons({ problem: { reason: 'ImageDownloading', message: 'Image debian: downloading', terminal: false } })).toEqual([]);
    expect(reasons({ error: { reason: 'StartFailed', message: 'start demo.web-1: boom' } })).toEqual(['Warning/StartFailed']);
  });
});

describe('printing', () => {
  const now = Date.parse('2026-01-01T01:00:00Z');
  const ev = (over: Partial<EventObject>): EventObject => ({
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'web-1.0123456789abcdef', namespace: 'demo' },
    involvedObject: { kind: 'VirtualMachine', name: 'web-1', namespace: 'demo' }, reason: 'Scheduled', message: 'Successfully assigned demo/web-1 to hv-1',
    source: { component: 'stratus-scheduler' }, firstTimestamp: '2026-01-01T00:50:00Z', lastTimestamp: '2026-01-01T00:59:00Z', count: 1, type: 'Normal',
    ...over,
  });

  test('kubectl get events cells: kube-apiserver\'s columns', () => {
    expect(eventCells(ev({}), now)).toEqual(['60s', 'Normal', 'Scheduled', 'virtualmachine/web-1', '', 'stratus-scheduler', 'Successfully assigned demo/web-1 to hv-1', '10m', 1, 'web-1.0123456789abcdef']);
    expect(eventCells(ev({ source: { component: 'stratus-agent', host: 'hv-1' } }), now)[5]).toBe('stratus-agent, hv-1');
  });

  test('describe: an Events table oldest first with ages and repeat counts, or <none>', () => {
    const text = describeEvents([
      ev({ reason: 'Started', type: 'Normal', message: 'started', source: { component: 'stratus-agent', host: 'hv-1' }, firstTimestamp: '2026-01-01T00:58:00Z', lastTimestamp: '2026-01-01T00:59:30Z', count: 2 }),
      ev({}),
    ] as never, now);
    expect(text.split('\n')).toEqual([
      'Events:',
      '  Type    Reason     Age               From                 Message',
      '  ----    ------     ----              ----                 -------',
      '  Normal  Scheduled  10m               stratus-scheduler    Successfully assigned demo/web-1 to hv-1',
      '  Normal  Started    30s (x2 over 2m)  stratus-agent, hv-1  started',
      '',
    ]);
    expect(describeEvents([], now)).toBe('Events:       <none>\n');
    expect(describeEvents(undefined, now)).toBe('');
  });
});
