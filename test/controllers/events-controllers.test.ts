// The controllers' Events on a real Cassandra node: the scheduler's FailedScheduling (with the
// count of hosts each filter rejected) then Scheduled, and host health's NotReady on a Host whose
// heartbeat stopped and HostLost on the VM it moves off it.
import pino from 'pino';
import { EventBroadcaster } from '../../runtime/events';
import { EVENT_FIELDS, type EventObject } from '../../kube/events';
import { parseFieldSelector } from '../../kube/selectors';
import { EventRepository } from '../../store/events';
import { hostObject, vmKey, vmObject } from '../helpers/fixtures';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { removeAll } from '../helpers/placement';
import { openTestStore, type TestStore } from '../helpers/store';
import { until } from '../helpers/wait';

let t: TestStore;
let repo: EventRepository;
let running: RunningReplicas | undefined;
const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });

beforeAll(async () => {
  t = await openTestStore('events_ctl', { followerGraceMs: 200 });
  repo = new EventRepository({ client: t.client, keyspace: t.keyspace, feed: t.store.feed });
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});
afterAll(async () => {
  await t?.close();
});

const start = (opts: Parameters<typeof startReplicas>[2] = {}) =>
  startReplicas(t.store, 1, { logger, events: new EventBroadcaster({ sink: repo, logger }), ...opts }).then((r) => (running = r));

async function eventsOf(namespace: string, kind: string, name: string): Promise<EventObject[]> {
  return (await repo.list([namespace], { fieldSelector: parseFieldSelector(`involvedObject.kind=${kind},involvedObject.name=${name}`, EVENT_FIELDS) })).items;
}

test('the scheduler records FailedScheduling with the reasons counted, then Scheduled with the host', async () => {
  await t.store.create(hostObject('small-1', { cpu: 2 }));
  await t.store.create(hostObject('small-2', { cpu: 2 }));
  await start({ enable: { audit: false }, scheduler: { unschedulableRetryMs: 500 } });
  const vm = await t.store.create(vmObject('sched', 'big-1', { cpu: 4 }));
  const failed = await until('FailedScheduling', async () => (await eventsOf('sched', 'VirtualMachine', 'big-1')).find((e) => e.reason === 'FailedScheduling'));
  expect(failed).toMatchObject({
    type: 'Warning', source: { component: 'stratus-scheduler' }, reportingComponent: 'stratuslab.eu/scheduler', reportingInstance: 'replica-0',
    involvedObject: { kind: 'VirtualMachine', namespace: 'sched', name: 'big-1', uid: vm.metadata.uid },
  });
  expect(failed.message).toMatch(/^0\/2 hosts fit: 2 .*cpu/);
  await t.store.create(hostObject('big', { cpu: 8 }));
  const scheduled = await until('Scheduled', async () => (await eventsOf('sched', 'VirtualMachine', 'big-1')).find((e) => e.reason === 'Scheduled'));
  expect(scheduled).toMatchObject({ type: 'Normal', message: 'Successfully assigned sched/big-1 to big', count: 1 });
});

test('host health records NotReady on a Host whose heartbeat stopped, and HostLost on the VM it moves off', async () => {
  await removeAll(t.store, ['VirtualMachine', 'Host']);
  const host = await t.store.create(hostObject('hv-dead', { cpu: 8 }));
  // the agent's heartbeat, until the VM is bound there
  let beating = true;
  const beats = (async () => {
    while (beating) {
      await t.store.guaranteedUpdate({ kind: 'Host', namespace: '', name: 'hv-dead' }, (h) => ({ ...h, status: { ...h.status, heartbeatTime: new Date().toISOString() } }), { status: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await start({ hostHealth: { leaseDurationMs: 800, fenceMs: 1000, rescheduleMs: 1500 }, enable: { audit: false } });
  await t.store.create(vmObject('hh', 'web-1'));
  await until('web-1 bound to hv-dead', async () => (await t.store.get(vmKey('hh', 'web-1')))?.status?.host === 'hv-dead');
  beating = false;
  await beats;
  const notReady = await until('NotReady', async () => (await eventsOf('', 'Host', 'hv-dead')).find((e) => e.reason === 'NotReady'), { timeoutMs: 15_000 });
  expect(notReady).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Host', name: 'hv-dead', uid: host.metadata.uid }, source: { component: 'stratus-controllers' } });
  expect(notReady.metadata.namespace).toBeUndefined();
  const lost = await until('HostLost', async () => (await eventsOf('hh', 'VirtualMachine', 'web-1')).find((e) => e.reason === 'HostLost'), { timeoutMs: 15_000 });
  expect(lost).toMatchObject({ type: 'Warning', message: 'host hv-dead stopped renewing its lease: rescheduling' });
});
