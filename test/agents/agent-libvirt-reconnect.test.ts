/**
 * The agent across a libvirt outage, against a real Cassandra node and libvirt's test driver:
 * the connection dies under it (the test closes the agent's connection handle, so every call
 * fails with VIR_ERR_INVALID_CONN) and reconnecting fails for a while (the test driver's host
 * file is moved away, as libvirtd being down). The Host reports LibvirtConnected=False, the host
 * does not fence although the outage outlasts T_fence, and once libvirt is back the agent
 * reconnects, reports True, re-subscribes to lifecycle events and converges everything again.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredObject } from '../../store';
import type { Condition } from '../../schemas/types.gen';
import type { AgentProcess } from '../../agents/agent-process';
import type { HostAgent } from '../../agents/host-agent';
import { writeTestHost, type LibvirtConnection } from '../../libvirt';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import type { TestStore } from '../helpers/store';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'hv-reconnect';
const FENCE_MS = 2000;
let t: TestStore;
let hostFile: string;
let proc: AgentProcess;
let agent: HostAgent;
let ta: TestAgent;

beforeAll(async () => {
  ta = await startTestAgent({
    name: 'agent_reconnect',
    hosts: async (dir) => {
      hostFile = join(dir, 'host.xml');
      return [{ name: HOST, libvirtUri: await writeTestHost(hostFile, { cpus: 4, memoryKiB: 8 * 1024 * 1024 }) }];
    },
    // A long resync: after the outage, only the reconnection (and events) make the agent act.
    timings: { renewIntervalMs: 200, fenceAfterMs: FENCE_MS, heartbeatIntervalMs: 300, resyncMs: 120_000, libvirtProbeMs: 200, hostFactsRefreshMs: 300 },
  });
  ({ t, proc } = ta);
  agent = proc.agents[0];
});

afterAll(() => ta?.stop());


async function runVm(name: string): Promise<StoredObject> {
  await t.store.create({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
    spec: { cpu: 1, memory: '512Mi', disks: [{ name: 'data', size: '1Gi' }] }, status: { host: HOST, phase: 'Scheduled' },
  });
  return until(`${name} Running`, async () => {
    const o = await t.store.get(vmKey('demo', name));
    return o?.status?.phase === 'Running' ? o : undefined;
  });
}

async function hostCondition(type: string): Promise<Condition | undefined> {
  const h = await t.store.get({ kind: 'Host', namespace: '', name: HOST });
  return (h?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

async function domainState(conn: LibvirtConnection, name: string): Promise<string | undefined> {
  const d = await conn.lookupDomainByName(`demo.${name}`);
  if (!d) return undefined;
  try {
    return (await d.getState()).state;
  } finally {
    d.free();
  }
}

test('the Host reports LibvirtConnected=True while the agent is connected', async () => {
  const c = await until('LibvirtConnected', () => hostCondition('LibvirtConnected'));
  expect(c).toMatchObject({ status: 'True', reason: 'Connected', message: expect.stringContaining(hostFile) });
});

test('a lost libvirt connection is reported False, does not fence, and is replaced: True again, events and VMs converge on the new connection', async () => {
  await runVm('before');
  const old = agent.conn!;
  expect(await domainState(old, 'before')).toBe('running');

  // libvirtd "goes away": its socket closes under the agent, and it cannot be reached for a while.
  await rename(hostFile, `${hostFile}.down`);
  await old.close();
  const down = await until('LibvirtConnected=False', async () => {
    const c = await hostCondition('LibvirtConnected');
    return c?.status === 'False' ? c : undefined;
  });
  expect(down.reason).toMatch(/^(ConnectionLost|ConnectFailed)$/);
  expect(down.message).toContain(hostFile);
  expect(agent.snapshot()).toMatchObject({ libvirtConnected: false });
  expect(proc.notReady()).toMatch(/libvirt/);

  // The outage outlasts T_fence: heartbeats and lease renewals go on, so nothing is fenced.
  const heartbeat = (await t.store.get({ kind: 'Host', namespace: '', name: HOST }))!.status!.heartbeatTime as string;
  await new Promise((r) => setTimeout(r, FENCE_MS + 1000));
  expect(agent.snapshot().lease).toBe('held');
  expect(agent.snapshot().fences).toBe(0);
  const during = (await t.store.get({ kind: 'Host', namespace: '', name: HOST }))!;
  expect(Date.parse(during.status!.heartbeatTime as string)).toBeGreaterThan(Date.parse(heartbeat));
  expect(await hostCondition('Fenced')).toMatchObject({ status: 'False' });
  expect(await hostCondition('LibvirtConnected')).toMatchObject({ status: 'False' });

  // libvirtd is back.
  await rename(`${hostFile}.down`, hostFile);
  const up = await until('LibvirtConnected=True', async () => {
    const c = await hostCondition('LibvirtConnected');
    return c?.status === 'True' ? c : undefined;
  });
  expect(Date.parse(up.lastTransitionTime!)).toBeGreaterThanOrEqual(Date.parse(down.lastTransitionTime!));
  const fresh = agent.conn!;
  expect(fresh).not.toBe(old);
  expect(agent.snapshot()).toMatchObject({ libvirtConnected: true, libvirtReconnects: 1 });
  expect(proc.notReady()).toBeUndefined();

  // The new daemon (a fresh test-driver instance) had lost the domain: reconciling everything again restores it.
  await until('the earlier VM running again on the new connection', async () => (await domainState(fresh, 'before')) === 'running');

  // A VM bound after the recovery runs.
  await runVm('after');
  expect(await domainState(fresh, 'after')).toBe('running');

  // Lifecycle events come from the new connection: a domain destroyed behind the agent's back
  // is restarted well before the (two-minute) resync could do it.
  const d = (await fresh.lookupDomainByName('demo.after'))!;
  await d.destroy();
  d.free();
  await until('restarted on the lifecycle event', async () => (await domainState(fresh, 'after')) === 'running', 5000);
}, 60_000);
