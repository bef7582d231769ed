// `stratus start|stop|restart` end to end: the CLI (in-process) against the real API app, an agent
// on libvirt's test driver sharing its keyspace, and real Cassandra. Each action's effect on spec,
// status and the libvirt domain; Manual VMs acted on only through requests; every request carried
// out exactly once (libvirt numbers each boot of a domain: its live id); a viewer refused.
import os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run } from '../../cli/main';
import { writeTestHost, type LibvirtConnection } from '../../libvirt';
import { buildRequestsMark, parseRequestsMark, REQUESTS_NS, REQUESTS_PREFIX } from '../../agents/domain';
import { openTestApi, API, type TestApi } from '../helpers/api';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'hv-act';
const V = 'stratuslab.eu/v1alpha1';
const NS = `${API}/namespaces/demo/virtualmachines`;
let api: TestApi;
let agent: TestAgent;
let conn: LibvirtConnection;

beforeAll(async () => {
  api = await openTestApi('vmactcli');
  await api.req.post(`${API}/projects`).send({ apiVersion: V, kind: 'Project', metadata: { name: 'demo' }, spec: { members: [{ user: 'vic', role: 'viewer' }] } }).expect(201);
  agent = await startTestAgent({
    name: 'vmactcli', shared: api,
    hosts: async (dir) => [{
      name: HOST,
      libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/pools/default', capacityBytes: 50 * 1024 ** 3 }] }),
    }],
    timings: { renewIntervalMs: 200, fenceAfterMs: 3000, heartbeatIntervalMs: 300, resyncMs: 1000, shutdownGraceMs: 500 },
  });
  conn = agent.proc.agents[0].conn!;
}, 90000);
afterAll(async () => {
  await agent?.stop();
  await api?.close();
});

function cli(args: string[], token = api.token): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return run(['node', 'stratus', '--server', api.url, '--token', token, '-n', 'demo', ...args], {
    stdout: { write: (s: string) => { out += s; return true; } } as never,
    stderr: { write: (s: string) => { err += s; return true; } } as never,
    stdin: Readable.from([]), env: {}, homedir: os.tmpdir(),
  }).then((code) => ({ code, out, err }));
}

async function createBound(name: string, runStrategy: string): Promise<any> {
  await api.req.post(NS).send({ apiVersion: V, kind: 'VirtualMachine', metadata: { name }, spec: { cpu: 1, memory: '512Mi', runStrategy } }).expect(201);
  // bound the way the scheduler binds: status.host and Scheduled
  await api.store.guaranteedUpdate(vmKey('demo', name), (cur) => {
    cur.status = { ...(cur.status ?? {}), host: HOST, phase: 'Scheduled', conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `bound to ${HOST}` }] };
    return cur;
  }, { status: true });
  return get(name);
}

async function get(name: string): Promise<any> {
  return (await api.req.get(`${NS}/${name}`).expect(200)).body;
}

const ready = (o: any) => (o.status?.conditions ?? []).find((c: any) => c.type === 'Ready');

async function domainState(name: string): Promise<string | undefined> {
  const d = await conn.lookupDomainByName(`demo.${name}`);
  if (!d) return undefined;
  try {
    return (await d.getState()).state;
  } finally {
    d.free();
  }
}

/**
 * The id libvirt gave the running domain's boot (undefined when it is not running): the test
 * driver numbers boots from one counter, so one boot on this host while nothing else boots adds 1.
 */
async function bootId(name: string): Promise<number | undefined> {
  const d = await conn.lookupDomainByName(`demo.${name}`);
  if (!d) return undefined;
  try {
    const m = /<domain\b[^>]*\sid=['"](\d+)['"]/.exec(await d.getXML());
    return m ? Number(m[1]) : undefined;
  } finally {
    d.free();
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('stop and start an Always VM: runStrategy flips to Halted and back, generation rises, the domain stops and starts', async () => {
  const created = await createBound('web-1', 'Always');
  await until('web-1 Running', async () => (await get('web-1')).status?.phase === 'Running');
  expect(await domainState('web-1')).toBe('running');

  const stop = await cli(['stop', 'web-1', '--wait', '--timeout', '20s']);
  expect(stop.err).toBe('');
  expect(stop.code).toBe(0);
  expect(stop.out).toBe('virtualmachine.stratuslab.eu/web-1: runStrategy changed from Always to Halted: the VM will stop\nvirtualmachine.stratuslab.eu/web-1 stopped\n');
  const stopped = await get('web-1');
  expect(stopped.spec.runStrategy).toBe('Halted');
  expect(stopped.metadata.generation).toBe(created.metadata.generation + 1);
  expect(stopped.status).toMatchObject({ phase: 'Stopped', observedGeneration: created.metadata.generation + 1 });
  expect(ready(stopped)).toMatchObject({ status: 'False', reason: 'Halted' });
  expect(await domainState('web-1')).toBe('shutoff');

  const start = await cli(['start', 'web-1', '--wait', '--timeout', '20s']);
  expect(start.code).toBe(0);
  expect(start.out).toBe('virtualmachine.stratuslab.eu/web-1: runStrategy changed from Halted to Always: the VM will start\nvirtualmachine.stratuslab.eu/web-1 running\n');
  const running = await get('web-1');
  expect(running.spec.runStrategy).toBe('Always');
  expect(running.metadata.generation).toBe(created.metadata.generation + 2);
  expect(await domainState('web-1')).toBe('running');

  // impossible: exit 1 with the server's reason; a dry run changes nothing
  const again = await cli(['start', 'web-1']);
  expect(again.code).toBe(1);
  expect(again.err).toBe('Error from server (Conflict): Operation cannot be fulfilled on virtualmachines.stratuslab.eu "web-1": VM is already running (runStrategy Always keeps it running)\n');
  const dry = await cli(['stop', 'web-1', '--dry-run']);
  expect(dry.out).toBe('virtualmachine.stratuslab.eu/web-1: runStrategy changed from Always to Halted: the VM will stop (dry run: nothing was changed)\n');
  const still = await get('web-1');
  expect(still.spec.runStrategy).toBe('Always');
  expect(still.metadata.generation).toBe(running.metadata.generation);
}, 60000);

test('a Manual VM is defined but never started by the agent; start, restart and stop are requests it carries out once each', async () => {
  const created = await createBound('man-1', 'Manual');
  const defined = await until('man-1 defined and Stopped', async () => {
    const o = await get('man-1');
    return o.status?.phase === 'Stopped' && (await domainState('man-1')) === 'shutoff' ? o : undefined;
  });
  expect(ready(defined)).toMatchObject({ status: 'False', reason: 'Stopped', message: expect.stringContaining('runStrategy Manual: the agent starts it only when asked') });
  await sleep(1500); // more than a resync: still not started
  expect(await bootId('man-1')).toBeUndefined();

  const start = await cli(['start', 'man-1', '--wait', '--timeout', '20s']);
  expect(start.code).toBe(0);
  expect(start.out).toBe('virtualmachine.stratuslab.eu/man-1: start requested: its agent will boot the VM\nvirtualmachine.stratuslab.eu/man-1 running\n');
  let cur = await get('man-1');
  expect(cur.spec.runStrategy).toBe('Manual');
  expect(cur.metadata.generation).toBe(created.metadata.generation);
  expect(cur.status.stateChangeRequests).toBeUndefined();
  expect(await domainState('man-1')).toBe('running');
  const firstBoot = (await bootId('man-1'))!;

  const restart = await cli(['restart', 'man-1', '--grace', '0', '--wait', '--timeout', '20s']);
  expect(restart.code).toBe(0);
  expect(restart.out).toMatch(/restart requested: its agent will stop the VM and start it again\n.*man-1 running\n$/);
  expect(await domainState('man-1')).toBe('running');
  expect(await bootId('man-1')).toBe(firstBoot + 1);
  // the domain records the restart it carried out
  const d = (await conn.lookupDomainByName('demo.man-1'))!;
  const mark = parseRequestsMark(await d.getXML({ inactive: true }));
  d.free();
  expect(mark).toHaveLength(1);
  await sleep(2500); // resyncs: not restarted again
  expect(await bootId('man-1')).toBe(firstBoot + 1);

  const stop = await cli(['stop', 'man-1', '--wait', '--timeout', '20s']);
  expect(stop.code).toBe(0);
  cur = await get('man-1');
  expect(cur.status.phase).toBe('Stopped');
  expect(ready(cur)).toMatchObject({ reason: 'Stopped', message: expect.stringMatching(/^the domain is shutoff \(shutdown\); runStrategy Manual: the agent starts it only when asked/) });
  expect(cur.status.stateChangeRequests).toBeUndefined();
  expect(await domainState('man-1')).toBe('shutoff');

  for (const action of ['stop', 'restart']) {
    const r = await cli([action, 'man-1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Error from server \(Conflict\): .*"man-1": VM is not running/);
  }
}, 60000);

test('stop then start of a Manual VM in quick succession: the requests are carried out in order', async () => {
  await createBound('seq-1', 'Manual');
  await until('seq-1 defined', async () => (await domainState('seq-1')) === 'shutoff');
  expect((await cli(['start', 'seq-1', '--wait', '--timeout', '20s'])).code).toBe(0);
  const boot = (await bootId('seq-1'))!;
  const stop = await cli(['stop', 'seq-1']);
  const start = await cli(['start', 'seq-1', '--wait', '--timeout', '20s']);
  expect([stop.code, start.code]).toEqual([0, 0]);
  expect(await domainState('seq-1')).toBe('running');
  expect(await bootId('seq-1')).toBe(boot + 1);
  expect((await get('seq-1')).status.stateChangeRequests).toBeUndefined();
}, 60000);

test('a restart of an Always VM is carried out once, also when the domain already records it (an agent that restarted)', async () => {
  await createBound('rs-1', 'Always');
  await until('rs-1 Running', async () => (await get('rs-1')).status?.phase === 'Running');
  const before = (await bootId('rs-1'))!;
  const r = await cli(['restart', 'rs-1', '--wait', '--timeout', '20s']);
  expect(r.code).toBe(0);
  expect(await bootId('rs-1')).toBe(before + 1);
  await sleep(2500);
  expect(await bootId('rs-1')).toBe(before + 1);

  // A restart request the domain already records as carried out (the agent died before removing it):
  // removed from status without another restart.
  const vm = await get('rs-1');
  const id = 'already-done-1';
  const d = (await conn.lookupDomainByName('demo.rs-1'))!;
  await d.setMetadata(buildRequestsMark([...parseRequestsMark(await d.getXML({ inactive: true })), id]), REQUESTS_PREFIX, REQUESTS_NS, { affect: 'both' });
  d.free();
  await api.req.patch(`${NS}/rs-1/status`).set('Content-Type', 'application/merge-patch+json')
    .send({ status: { stateChangeRequests: [{ action: 'Restart', uid: vm.metadata.uid, id, requestTime: '2024-01-01T00:00:00Z' }] } }).expect(200);
  await until('the recorded request removed', async () => (await get('rs-1')).status.stateChangeRequests === undefined);
  expect(await bootId('rs-1')).toBe(before + 1);
  expect(await domainState('rs-1')).toBe('running');
}, 60000);

test('a viewer is refused (exit 1, 403) and nothing is written; --grace must be a duration', async () => {
  await createBound('vw-1', 'Always');
  const before = await get('vw-1');
  const token = await api.tokenFor('vic');
  const r = await cli(['stop', 'vw-1'], token);
  expect(r.code).toBe(1);
  expect(r.err).toBe('Error from server (Forbidden): virtualmachines.stratuslab.eu "vw-1" is forbidden: User "vic" cannot update resource "virtualmachines/stop" in API group "stratuslab.eu" in the namespace "demo"\n');
  const after = await get('vw-1');
  expect(after.spec.runStrategy).toBe('Always');
  expect(after.metadata.generation).toBe(before.metadata.generation);
  const bad = await cli(['stop', 'vw-1', '--grace', 'soon']);
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--grace/);
  const nope = await cli(['start', 'vw-1', '--grace', '3']);
  expect(nope.code).toBe(2);
});
