// The agent's Events on libvirt's test driver and a real Cassandra node: Created and Started when
// it starts a VM bound to its host, Stopped when the VM is halted, and Fenced (on the Host and on
// the VM it stopped) when it loses its lease.
import { join } from 'node:path';
import { EventBroadcaster } from '../../runtime/events';
import { EVENT_FIELDS, type EventObject } from '../../kube/events';
import { parseFieldSelector } from '../../kube/selectors';
import { EventRepository } from '../../store/events';
import { LeaseRepository } from '../../store/leases';
import type { LeaseBackend } from '../../agents/host/lease';
import { writeTestHost } from '../../libvirt';
import { startTestAgent, testLogger, type TestAgent } from '../helpers/agent';
import { vmKey, vmObject } from '../helpers/fixtures';
import { until } from '../helpers/wait';

const HOST = 'hv-events';
let agent: TestAgent;
let repo: EventRepository;
let leaseLost = false;

beforeAll(async () => {
  let leases: LeaseRepository;
  // As a lease that another agent holds from some moment on: no renewal, no acquisition.
  const lease: LeaseBackend = {
    acquire: async (name, holder, now, d) => (leaseLost ? { ok: false, current: (await leases.get(name))! } : leases.acquire(name, holder, now, d)),
    renew: async (name, holder, now) => !leaseLost && leases.renew(name, holder, now),
  };
  agent = await startTestAgent({
    name: 'agent_events',
    hosts: async (dir) => [{ name: HOST, libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/hollow/ev' }] }) }],
    prepare: (t) => {
      repo = new EventRepository({ client: t.client, keyspace: t.keyspace, feed: t.store.feed });
      leases = new LeaseRepository({ client: t.client, keyspace: t.keyspace });
    },
    // the repository exists once prepare() ran: the sink reaches it then
    events: new EventBroadcaster({ sink: { get: (ns, n) => repo.get(ns, n), write: (e) => repo.write(e) }, logger: testLogger }),
    lease,
  });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
});

async function eventsOf(namespace: string, kind: string, name: string): Promise<EventObject[]> {
  return (await repo.list([namespace], { fieldSelector: parseFieldSelector(`involvedObject.kind=${kind},involvedObject.name=${name}`, EVENT_FIELDS) })).items;
}
const reasons = async (namespace: string, kind: string, name: string) => (await eventsOf(namespace, kind, name)).map((e) => e.reason).sort();

test('Created and Started when the agent starts a VM bound to its host, Stopped when it is halted', async () => {
  const store = agent.t.store;
  const vm = await store.create(vmObject('ev', 'web-1'));
  await store.updateStatus({ ...vm, status: { host: HOST } });
  await until('Created and Started', async () => {
    const r = await reasons('ev', 'VirtualMachine', 'web-1');
    return r.includes('Created') && r.includes('Started');
  }, 15_000);
  const started = (await eventsOf('ev', 'VirtualMachine', 'web-1')).find((e) => e.reason === 'Started')!;
  expect(started).toMatchObject({
    type: 'Normal', message: `started the domain ev.web-1 on host ${HOST}`, source: { component: 'stratus-agent', host: HOST },
    reportingComponent: 'stratuslab.eu/agent', reportingInstance: HOST, involvedObject: { uid: vm.metadata.uid },
  });
  await until('web-1 Running', async () => (await store.get(vmKey('ev', 'web-1')))?.status?.phase === 'Running', 15_000);
  await store.guaranteedUpdate(vmKey('ev', 'web-1'), (cur) => ({ ...cur, spec: { ...cur.spec, runStrategy: 'Halted' } }));
  await until('Stopped', async () => (await reasons('ev', 'VirtualMachine', 'web-1')).includes('Stopped'), 15_000);
}, 60_000);

test('a lost lease: Fenced on the Host and on the VM the agent stopped', async () => {
  const store = agent.t.store;
  const vm = await store.create(vmObject('ev', 'web-2'));
  await store.updateStatus({ ...vm, status: { host: HOST } });
  await until('web-2 Running', async () => (await store.get(vmKey('ev', 'web-2')))?.status?.phase === 'Running', 15_000);
  leaseLost = true;
  const fenced = await until('Fenced on the Host', async () => (await eventsOf('', 'Host', HOST)).find((e) => e.reason === 'Fenced'), 15_000);
  const host = await store.get({ kind: 'Host', namespace: '', name: HOST });
  expect(fenced).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Host', name: HOST, uid: host!.metadata.uid } });
  expect(fenced.message).toMatch(new RegExp(`^host ${HOST} could not renew its lease for \\d+s: stopped its domains$`));
  await until('Fenced on web-2', async () => (await reasons('ev', 'VirtualMachine', 'web-2')).includes('Fenced'), 15_000);
}, 60_000);
