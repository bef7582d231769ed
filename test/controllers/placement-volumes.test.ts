// Placement of VMs whose disks use Volumes: a Volume lives on one host (created there, or pinned by
// spec.host), so its VMs can only go there; Volumes on different hosts make a VM unschedulable.
import { hostObject, vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { StoredObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(60_000);

const suite = placementSuite('placement_volumes');
let running: RunningReplicas;

const volume = (name: string, o: { specHost?: string; statusHost?: string } = {}): StoredObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name, namespace: 'demo' },
  spec: { size: '1Gi', ...(o.specHost ? { host: o.specHost } : {}) },
  ...(o.statusHost ? { status: { phase: 'Available', host: o.statusHost } } : {}),
});
const getVm = async (name: string) => (await suite.store.get(vmKey('demo', name)))!;
const scheduled = (o: StoredObject) => conditionOf(o, 'Scheduled');

test('a VM goes to the host of its Volumes; Volumes on different hosts make it unschedulable with a message naming them', async () => {
  for (const h of ['hv-1', 'hv-2', 'hv-3', 'hv-4']) await suite.store.create(hostObject(h));
  await suite.store.create(volume('data', { statusHost: 'hv-3' }));
  await suite.store.create(volume('logs', { specHost: 'hv-3' }));
  await suite.store.create(volume('elsewhere', { statusHost: 'hv-1' }));
  await suite.store.create(volume('fresh'));
  running = await suite.start(2, { enable: { audit: false } });
  const names = Array.from({ length: 6 }, (_, i) => `db-${i}`);
  for (const n of names) await suite.store.create(vmObject('demo', n, { disks: [{ name: 'data', volume: 'data' }, { name: 'logs', volume: 'logs' }, { name: 'tmp', volume: 'fresh' }] }));
  for (const n of names) expect(await until(`${n} bound`, async () => (await getVm(n)).status?.host)).toBe('hv-3');

  await suite.store.create(vmObject('demo', 'split', { disks: [{ name: 'a', volume: 'data' }, { name: 'b', volume: 'elsewhere' }] }));
  const split = await until('split unschedulable', async () => { const v = await getVm('split'); return scheduled(v)?.status === 'False' ? v : undefined; });
  expect(split.status?.host).toBeUndefined();
  expect(scheduled(split)).toMatchObject({ reason: 'Unschedulable', message: 'its volumes are on different hosts: data on hv-3, elsewhere on hv-1' });

  // The Volume's host is full: the VM waits, and says why for every host.
  await suite.store.create(vmObject('demo', 'big', { cpu: 1000, disks: [{ name: 'data', volume: 'data' }] }));
  const big = await until('big unschedulable', async () => { const v = await getVm('big'); return scheduled(v)?.status === 'False' ? v : undefined; });
  expect(scheduled(big)!.message).toBe('0/4 hosts fit: 3 volume on another host, 1 insufficient cpu');
});
