/**
 * Hollow hosts: N agents in one process, each a separate Host on its own isolated test-driver
 * hypervisor, sharing ONE VirtualMachine informer (one change-feed follower) that dispatches by
 * status.host.
 */
import { join } from 'node:path';
import { hollowHosts, type AgentProcess } from '../../agents/agent-process';
import type { TestStore } from '../helpers/store';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';

const N = 12;
let t: TestStore;
let proc: AgentProcess;
let ta: TestAgent;
let follows = 0;

beforeAll(async () => {
  ta = await startTestAgent({
    name: 'agent_hollow', startSpreadMs: 200,
    prepare: (store) => {
      const follow = store.store.follow.bind(store.store);
      store.store.follow = (kind, from) => {
        if (kind === 'VirtualMachine') follows++;
        return follow(kind, from);
      };
    },
    hosts: (dir) => hollowHosts({ prefix: 'hollow', count: N, dir: join(dir, 'hosts'), cpus: 16, memoryMiB: 65536, labels: { pool: 'scale' } }),
    timings: { renewIntervalMs: 500, fenceAfterMs: 5000, heartbeatIntervalMs: 1000, resyncMs: 5000 },
  });
  ({ t, proc } = ta);
}, 60_000);

afterAll(() => ta?.stop());

test('every hollow host registers as its own Host with the hollow label and holds its own lease', async () => {
  const hosts = (await t.store.list('Host', undefined)).items;
  expect(hosts.map((h) => h.metadata.name).sort()).toEqual(proc.agents.map((a) => a.host).sort());
  for (const h of hosts) {
    expect(h.metadata.labels).toEqual({ pool: 'scale', 'stratuslab.eu/hollow': 'true' });
    expect(h.status?.nodeInfo).toMatchObject({ hostname: h.metadata.name, cpus: 16, hypervisor: 'Test' });
  }
  const leases = await proc.leases.list();
  expect(new Set(leases.map((l) => l.name)).size).toBe(N);
  expect(proc.agents.every((a) => a.snapshot().lease === 'held')).toBe(true);
});

test('VMs bound to different hollow hosts run each on its own isolated hypervisor, through one shared follower', async () => {
  const targets = [proc.agents[0], proc.agents[5], proc.agents[N - 1]];
  for (const [i, a] of targets.entries()) {
    await t.store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: `h-${i}`, namespace: 'scale' },
      spec: { cpu: 1, memory: '512Mi' }, status: { host: a.host, phase: 'Scheduled' },
    });
  }
  await until('all Running', async () => {
    const vms = (await t.store.list('VirtualMachine', 'scale')).items;
    return vms.length === 3 && vms.every((v) => v.status?.phase === 'Running');
  }, 15_000);
  for (const [i, a] of targets.entries()) {
    const mine = await a.conn!.listAllDomains();
    expect(mine.map((d) => d.name)).toEqual([`scale.h-${i}`]);
    mine.forEach((d) => d.free());
  }
  const idle = await proc.agents[1].conn!.listAllDomains();
  expect(idle).toEqual([]);
  expect(follows).toBe(1);
});
