/**
 * The hypervisor agent against a real Cassandra node and libvirt's test driver: VMs bound to its
 * host are run, stopped, repaired, reported and removed; the Host is registered and heartbeats;
 * a lost lease fences; monitoring and accounting reach Cassandra.
 */
import { join } from 'node:path';
import type { StoredObject } from '../../store';
import type { AgentProcess } from '../../agents/agent-process';
import { writeTestHost, type LibvirtConnection } from '../../libvirt';
import { parseVmVolumeName } from '../../agents/names';
import type { TestStore } from '../helpers/store';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'hv-test';
let agent: TestAgent;
let t: TestStore;
let proc: AgentProcess;
let conn: LibvirtConnection;

beforeAll(async () => {
  agent = await startTestAgent({
    name: 'agent', threads: 4, workers: 4, monitoring: true,
    hosts: async (dir) => [{
      name: HOST, labels: { rack: 'r1' },
      libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/pools/default', capacityBytes: 50 * 1024 ** 3 }] }),
    }],
    timings: { renewIntervalMs: 200, fenceAfterMs: 1500, heartbeatIntervalMs: 300, resyncMs: 1500, sampleIntervalMs: 400, accountingFlushMs: 800, shutdownGraceMs: 500 },
  });
  ({ t, proc } = agent);
  conn = proc.agents[0].conn!;
});

afterAll(() => agent?.stop());

async function createVm(name: string, spec: Record<string, unknown> = {}): Promise<StoredObject> {
  return t.store.create({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
    spec: { cpu: 2, memory: '1Gi', disks: [{ name: 'data', size: '2Gi' }], ...spec },
  });
}

/** Binds a VM to a host the way the scheduler does: status.host and Scheduled, by status write. */
async function bind(name: string, host = HOST): Promise<void> {
  await t.store.guaranteedUpdate(vmKey('demo', name), (cur) => {
    cur.status = { ...(cur.status ?? {}), host, phase: 'Scheduled', conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `bound to ${host}` }] };
    return cur;
  }, { status: true });
}

async function vm(name: string): Promise<StoredObject | undefined> {
  return t.store.get(vmKey('demo', name));
}

function ready(o: StoredObject | undefined): { status: string; reason: string; message: string } | undefined {
  return (o?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === 'Ready');
}

async function domainState(name: string, domain = `demo.${name}`): Promise<string | undefined> {
  const d = await conn.lookupDomainByName(domain);
  if (!d) return undefined;
  try {
    return (await d.getState()).state;
  } finally {
    d.free();
  }
}

async function volumesOf(name: string): Promise<string[]> {
  const pool = (await conn.lookupStoragePool('default'))!;
  try {
    const vols = await pool.listVolumes();
    const names = vols.map((v) => v.name);
    vols.forEach((v) => v.free());
    return names.filter((n) => parseVmVolumeName(n)?.name === name);
  } finally {
    pool.free();
  }
}

test('registers its Host with labels, capacity, allocatable, nodeInfo and a heartbeat that keeps advancing', async () => {
  const host = await until('the Host', async () => {
    const h = await t.store.get({ kind: 'Host', namespace: '', name: HOST });
    return h?.status?.heartbeatTime ? h : undefined;
  });
  expect(host.metadata.labels).toEqual({ rack: 'r1' });
  expect(host.status!.capacity).toEqual({ cpu: '8', memory: '16Gi', storage: '50Gi' });
  expect(host.status!.allocatable).toEqual({ cpu: '32', memory: '16Gi', storage: '50Gi' });
  expect(host.status!.nodeInfo).toMatchObject({ cpus: 8, hypervisor: 'Test', memory: '16Gi' });
  const first = host.status!.heartbeatTime as string;
  const later = await until('a newer heartbeat', async () => {
    const h = await t.store.get({ kind: 'Host', namespace: '', name: HOST });
    return (h?.status?.heartbeatTime as string) > first ? h : undefined;
  });
  expect(Date.parse(later.status!.heartbeatTime as string)).toBeGreaterThan(Date.parse(first));
  const lease = await proc.leases.get(HOST);
  expect(lease).toMatchObject({ name: HOST, holder: expect.stringContaining(HOST), durationMs: 1500 });
  expect(Date.now() - lease!.renewTime).toBeLessThan(1500);
});

test('a VM bound to the host reaches Running with phase, Ready, observedGeneration, domainUUID, consoleLog and startTime', async () => {
  const created = await createVm('web-1');
  const t0 = Date.now();
  await bind('web-1');
  const running = await until('Running', async () => {
    const o = await vm('web-1');
    return o?.status?.phase === 'Running' ? o : undefined;
  });
  const latency = Date.now() - t0;
  expect(latency).toBeLessThan(3000);
  const st = running.status!;
  expect(st.host).toBe(HOST);
  expect(st.observedGeneration).toBe(1);
  expect(st.domainUUID).toBe(created.metadata.uid);
  expect(st.consoleLog).toBe(join(agent.dir, 'console', 'demo.web-1.log'));
  expect(typeof st.startTime).toBe('string');
  expect(ready(running)).toMatchObject({ status: 'True', reason: 'Running' });
  // the placement controller's condition is left alone
  expect((st.conditions as { type: string }[]).find((c) => c.type === 'Scheduled')).toMatchObject({ status: 'True' });
  expect(running.metadata.finalizers).toContain('stratuslab.eu/agent');
  expect(await domainState('web-1')).toBe('running');
  expect(await volumesOf('web-1')).toHaveLength(1);
  expect(st.volumes).toEqual([{ name: 'data', pool: 'default', path: expect.stringMatching(/^\/var\/lib\/stratus\/pools\/default\/stratus\.demo\.web-1\.data\./) }]);
});

test('runStrategy Halted stops the domain and says so; Always starts it again', async () => {
  await createVm('halt-1');
  await bind('halt-1');
  await until('Running', async () => (await vm('halt-1'))?.status?.phase === 'Running');
  await t.store.guaranteedUpdate(vmKey('demo', 'halt-1'), (cur) => ({ ...cur, spec: { ...cur.spec, runStrategy: 'Halted' } }));
  const stopped = await until('Stopped', async () => {
    const o = await vm('halt-1');
    return o?.status?.phase === 'Stopped' && o.status.observedGeneration === 2 ? o : undefined;
  });
  expect(ready(stopped)).toMatchObject({ status: 'False', reason: 'Halted' });
  expect(await domainState('halt-1')).toBe('shutoff');
  await t.store.guaranteedUpdate(vmKey('demo', 'halt-1'), (cur) => ({ ...cur, spec: { ...cur.spec, runStrategy: 'Always' } }));
  await until('Running again', async () => (await vm('halt-1'))?.status?.phase === 'Running');
  expect(await domainState('halt-1')).toBe('running');
});

test('a domain destroyed behind the agent\'s back is restarted (Always)', async () => {
  await createVm('crash-1');
  await bind('crash-1');
  const before = await until('Running', async () => {
    const o = await vm('crash-1');
    return o?.status?.phase === 'Running' ? o : undefined;
  });
  const d = (await conn.lookupDomainByName('demo.crash-1'))!;
  await d.destroy();
  d.free();
  expect(await domainState('crash-1')).toBe('shutoff');
  await until('restarted', async () => (await domainState('crash-1')) === 'running', 5000);
  const after = await vm('crash-1');
  expect(after?.status?.phase).toBe('Running');
  expect(after?.status?.domainUUID).toBe(before.status!.domainUUID);
});

test('a domain destroyed behind the agent\'s back is reported and left stopped (Manual)', async () => {
  const created = await createVm('manual-1', { runStrategy: 'Manual' });
  await bind('manual-1');
  // Manual: the agent defines the domain but starts it only on a start request (the API's start action)
  await until('defined, Stopped', async () => (await vm('manual-1'))?.status?.phase === 'Stopped' && (await domainState('manual-1')) === 'shutoff');
  await t.store.guaranteedUpdate(vmKey('demo', 'manual-1'), (cur) => {
    cur.status = { ...cur.status, stateChangeRequests: [{ action: 'Start', uid: created.metadata.uid!, id: 'start-1', requestTime: '2024-01-01T00:00:00Z' }] };
    return cur;
  }, { status: true });
  await until('Running, the request removed', async () => {
    const o = await vm('manual-1');
    return o?.status?.startTime !== undefined && o.status.phase === 'Running' && o.status.stateChangeRequests === undefined;
  });
  const d = (await conn.lookupDomainByName('demo.manual-1'))!;
  await d.destroy();
  d.free();
  const reported = await until('Stopped', async () => {
    const o = await vm('manual-1');
    return o?.status?.phase === 'Stopped' ? o : undefined;
  });
  expect(ready(reported)).toMatchObject({ status: 'False', reason: 'Stopped', message: expect.stringContaining('destroyed') });
  await new Promise((r) => setTimeout(r, 1000));
  expect(await domainState('manual-1')).toBe('shutoff');
});

test('a definition changed behind the agent\'s back is repaired', async () => {
  await createVm('drift-1');
  await bind('drift-1');
  await until('Running', async () => (await vm('drift-1'))?.status?.phase === 'Running');
  const d = (await conn.lookupDomainByName('demo.drift-1'))!;
  const xml = (await d.getXML({ inactive: true })).replace(/<vcpu([^>]*)>2<\/vcpu>/, '<vcpu$1>7</vcpu>');
  d.free();
  (await conn.defineDomain(xml)).free();
  await until('vcpus repaired', async () => {
    const dom = await conn.lookupDomainByName('demo.drift-1');
    if (!dom) return false;
    try {
      return /<vcpu[^>]*>2<\/vcpu>/.test(await dom.getXML({ inactive: true }));
    } finally {
      dom.free();
    }
  });
});

test('a resize the host refused (Resized=False) keeps the defined vCPUs; once granted it is applied', async () => {
  await createVm('resize-1');
  await bind('resize-1');
  await until('Running', async () => (await vm('resize-1'))?.status?.phase === 'Running');
  const vcpus = async () => {
    const dom = await conn.lookupDomainByName('demo.resize-1');
    try {
      return Number(/<vcpu[^>]*>(\d+)<\/vcpu>/.exec(await dom!.getXML({ inactive: true }))?.[1]);
    } finally {
      dom?.free();
    }
  };
  const resized = (status: 'True' | 'False') => t.store.guaranteedUpdate(vmKey('demo', 'resize-1'), (cur) => {
    const conds = ((cur.status?.conditions ?? []) as { type: string }[]).filter((c) => c.type !== 'Resized');
    cur.status = { ...(cur.status ?? {}), conditions: [...conds, { type: 'Resized', status, reason: status === 'True' ? 'Resized' : 'InsufficientCapacity', message: 'test' }] };
    return cur;
  }, { status: true });
  // As the resize controller would: refused first, then the spec grows.
  await resized('False');
  await t.store.guaranteedUpdate(vmKey('demo', 'resize-1'), (cur) => {
    cur.spec = { ...cur.spec, cpu: 4 };
    return cur;
  });
  await until('the new generation observed', async () => (await vm('resize-1'))?.status?.observedGeneration === 2);
  await new Promise((r) => setTimeout(r, 500));
  expect(await vcpus()).toBe(2);
  await resized('True');
  await until('4 vCPUs defined', async () => (await vcpus()) === 4);
});

test('deleting a VM removes its domain and volumes, then releases the finalizer', async () => {
  await createVm('del-1', { disks: [{ name: 'a', size: '1Gi' }, { name: 'b', size: '1Gi' }] });
  await bind('del-1');
  await until('Running', async () => (await vm('del-1'))?.status?.phase === 'Running');
  expect(await volumesOf('del-1')).toHaveLength(2);
  await t.store.delete(vmKey('demo', 'del-1'));
  await until('the object to be gone', async () => (await vm('del-1')) === undefined);
  expect(await domainState('del-1')).toBeUndefined();
  expect(await volumesOf('del-1')).toEqual([]);
});

test('a VM bound to another host is removed from this one but its data disk is kept while it exists, and a domain the agent does not own is never touched', async () => {
  await createVm('move-1', { disks: [{ name: 'data', size: '2Gi' }, { name: 'tmp', size: '1Gi', ephemeral: true }] });
  await bind('move-1');
  await until('Running', async () => (await vm('move-1'))?.status?.phase === 'Running');
  expect(await volumesOf('move-1')).toHaveLength(2);
  (await conn.defineDomain(`<domain type='test'><name>foreign</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`)).free();
  await bind('move-1', 'elsewhere');
  await until('domain removed', async () => (await domainState('move-1')) === undefined);
  // a move never deletes the VM's data (only its ephemeral disk goes)
  await until('the ephemeral disk deleted', async () => (await volumesOf('move-1')).length === 1);
  expect((await volumesOf('move-1'))[0]).toMatch(/^stratus\.demo\.move-1\.data\./);
  // The status now belongs to the other host's agent: this one wrote nothing more.
  const o = await vm('move-1');
  expect(o?.status?.host).toBe('elsewhere');
  await proc.agents[0].sweep();
  await new Promise((r) => setTimeout(r, 500));
  expect(await domainState('foreign', 'foreign')).toBe('shutoff');
  expect(await volumesOf('move-1')).toHaveLength(1);
  // once the VM is gone, the sweep deletes what was left of it here
  await t.store.guaranteedUpdate(vmKey('demo', 'move-1'), (cur) => {
    cur.metadata.finalizers = [];
    return cur;
  });
  await t.store.delete(vmKey('demo', 'move-1'));
  await until('the data disk deleted by the sweep', async () => {
    await proc.agents[0].sweep();
    return (await volumesOf('move-1')).length === 0;
  });
});

test('a VM whose Image is missing reports ImageNotFound and runs once the Image exists (copy-on-write clone)', async () => {
  await createVm('img-1', { disks: [{ name: 'root', image: 'debian' }] });
  await bind('img-1');
  const failing = await until('ImageNotFound', async () => {
    const o = await vm('img-1');
    return ready(o)?.reason === 'ImageNotFound' ? o : undefined;
  });
  expect(failing.status!.phase).toBe('Starting');
  await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'debian', namespace: 'demo' }, spec: { source: { path: '/images/debian.qcow2' }, size: '3Gi' } });
  proc.refs.invalidate();
  await until('Running', async () => (await vm('img-1'))?.status?.phase === 'Running', 20_000);
  const pool = (await conn.lookupStoragePool('default'))!;
  const [volName] = await volumesOf('img-1');
  const vol = (await pool.lookupVolume(volName))!;
  const xml = await vol.getXML();
  vol.free();
  pool.free();
  expect(xml).toContain('<path>/images/debian.qcow2</path>');
  expect(xml).toMatch(/<capacity unit='bytes'>3221225472<\/capacity>/);
});

test('monitoring samples and hourly accounting of running VMs reach Cassandra', async () => {
  await createVm('mon-1');
  await bind('mon-1');
  await until('Running', async () => (await vm('mon-1'))?.status?.phase === 'Running');
  const metrics = proc.metrics!;
  const sample = await until('a VM sample', async () => (await metrics.topVms('demo')).find((s) => s.name === 'mon-1' && s.cpuCores > 0));
  expect(sample).toMatchObject({ host: HOST, state: 'running', vcpus: 2, memoryBytes: 1024 ** 3 });
  const hosts = await metrics.topHosts();
  expect(hosts.find((h) => h.host === HOST)).toMatchObject({ cpus: 8, memoryBytes: 16 * 1024 ** 3 });
  const usage = await until('accounting', async () => {
    const rows = await metrics.usage({ namespace: 'demo', fromMs: Date.now() - 2 * 3_600_000, toMs: Date.now() + 3_600_000 });
    return rows.find((r) => r.name === 'mon-1' && r.runningSeconds > 0);
  });
  expect(usage.memoryMiBSeconds).toBeCloseTo(usage.runningSeconds * 1024, 0);
  expect(usage.diskGiBSeconds).toBeGreaterThan(0);
  expect(usage.cpuSeconds).toBeGreaterThan(0);
  const history = await metrics.vmSamples('demo', 'mon-1', Date.now() - 60_000, Date.now());
  expect(history.length).toBeGreaterThan(0);
});

test('a lost lease fences: domains are stopped and reported Fenced; they run again once the lease is back', async () => {
  await createVm('fence-1');
  await bind('fence-1');
  await until('Running', async () => (await vm('fence-1'))?.status?.phase === 'Running');
  // Another holder takes the lease (as a second agent with the same host name would).
  await t.client.execute(`UPDATE ${t.keyspace}.host_leases SET holder = 'thief', renew_time = ?, duration_ms = 4000 WHERE host = ? IF EXISTS`, [new Date(), HOST]);
  const agent = proc.agents[0];
  await until('fenced', async () => agent.snapshot().lease === 'fenced', 5000);
  // Fencing destroys the domains right after the lease is declared lost.
  await until('the domain stopped by fencing', async () => (await domainState('fence-1')) === 'shutoff', 5000);
  const reported = await until('Fenced status', async () => {
    const o = await vm('fence-1');
    return ready(o)?.reason === 'Fenced' ? o : undefined;
  });
  expect(reported.status!.phase).toBe('Stopped');
  // The thief stops renewing; once its lease expires the agent takes it back and resumes.
  await until('lease back', async () => agent.snapshot().lease === 'held', 10_000);
  await until('running again', async () => (await domainState('fence-1')) === 'running', 5000);
  await until('Running status', async () => (await vm('fence-1'))?.status?.phase === 'Running');
  expect(agent.snapshot().fences).toBeGreaterThanOrEqual(1);
});
