// Deleting a Host object that still has VMs, on a real Cassandra node: nothing moves while the
// host may come back (an agent re-registers its Host at its next heartbeat); once it stayed away
// for T_resched, Always and RerunOnFailure VMs are placed elsewhere, a Manual VM is unbound and
// Failed with a condition saying why (and placed again once its spec changes), a VM being deleted
// is finished, and the host's allocation record and topology claims are cleaned up.
import { VM_FINALIZER } from '../../agents/names';
import { ALLOCATION_KIND } from '../../controllers/placement/allocation-record';
import { TOPOLOGY_CLAIM_KIND, topologyClaimSpec } from '../../controllers/placement/topology-claims';
import { hostObject, vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { StoredObject, TopologyClaimObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(90_000);

const suite = placementSuite('placement_hostrm');
let running: RunningReplicas;

const T_RESCHED = 1500;
const hostKey = (name: string) => ({ kind: 'Host', namespace: '', name });
const getVm = (name: string) => suite.store.get(vmKey('hr', name));
const TIMEOUT_MS = 30_000;
const cond = conditionOf;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const boundTo = (name: string, host: string) => until(`hr/${name} bound to ${host}`, async () => (await getVm(name))?.status?.host === host, TIMEOUT_MS);

test('a deleted host\'s VMs are rescheduled, failed or finished after T_resched, and its records are cleaned up', async () => {
  await suite.store.create(hostObject('hv-a', { labels: { rack: 'r1' } }));
  running = await suite.start(2, { enable: { hostHealth: false, audit: false }, hostHealth: { rescheduleMs: T_RESCHED } });
  const group = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };
  await suite.store.create(vmObject('hr', 'always', { runStrategy: 'Always' }));
  await suite.store.create(vmObject('hr', 'rerun', { runStrategy: 'RerunOnFailure' }));
  await suite.store.create(vmObject('hr', 'manual', { runStrategy: 'Manual' }));
  await suite.store.create(vmObject('hr', 'db', { labels: { app: 'db' }, placement: group }));
  const dying = vmObject('hr', 'dying');
  dying.metadata.finalizers = [VM_FINALIZER];
  await suite.store.create(dying);
  for (const n of ['always', 'rerun', 'manual', 'db', 'dying']) await boundTo(n, 'hv-a');
  await suite.store.delete(vmKey('hr', 'dying')); // the agent would finish it
  // Volumes whose storage the agent of hv-a created (host + finalizer), one of them being deleted.
  for (const name of ['vol-kept', 'vol-dying']) {
    await suite.store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name, namespace: 'hr', finalizers: [VM_FINALIZER] },
      spec: { size: '1Gi' }, status: { phase: 'Available', host: 'hv-a' },
    });
  }
  await suite.store.delete({ kind: 'Volume', namespace: 'hr', name: 'vol-dying' });
  await suite.store.create(hostObject('hv-b', { labels: { rack: 'r2' } }));

  // Deleted, and registered again by its agent within T_resched: nothing moves meanwhile or after.
  const stillOnA = async () => {
    for (const n of ['always', 'rerun', 'manual', 'db', 'dying']) expect((await getVm(n))?.status?.host).toBe('hv-a');
  };
  await suite.store.delete(hostKey('hv-a'));
  await sleep(T_RESCHED / 2);
  await stillOnA();
  await suite.store.create(hostObject('hv-a', { labels: { rack: 'r1' } }));
  await sleep(T_RESCHED * 1.5);
  await stillOnA();

  // Deleted for good.
  await suite.store.delete(hostKey('hv-a'));
  await boundTo('always', 'hv-b');
  await boundTo('rerun', 'hv-b');
  await boundTo('db', 'hv-b');
  expect(cond(await getVm('always'), 'Scheduled')).toMatchObject({ status: 'True' });
  const manual = await until('hr/manual Failed', async () => { const v = await getVm('manual'); return v?.status?.phase === 'Failed' ? v : undefined; }, TIMEOUT_MS);
  expect(manual.status!.host).toBeUndefined();
  expect(cond(manual, 'Scheduled')).toMatchObject({
    status: 'False', reason: 'HostDeleted',
    message: 'host hv-a was deleted; a VM with runStrategy Manual is not restarted elsewhere by itself: change its spec (e.g. runStrategy: Always) to place it again',
  });
  expect(cond(manual, 'Ready')).toMatchObject({ status: 'False', reason: 'HostDeleted' });
  await until('hr/dying gone', async () => (await getVm('dying')) === undefined, TIMEOUT_MS); // its finalizer was released
  // The Volumes: the one being deleted is gone; the other says its storage went with the host.
  await until('volume hr/vol-dying gone', async () => (await suite.store.get({ kind: 'Volume', namespace: 'hr', name: 'vol-dying' })) === undefined, TIMEOUT_MS);
  const kept = await until('volume hr/vol-kept Failed', async () => { const v = await suite.store.get({ kind: 'Volume', namespace: 'hr', name: 'vol-kept' }); return v?.status?.phase === 'Failed' ? v : undefined; }, TIMEOUT_MS);
  expect(cond(kept, 'Ready')).toMatchObject({ status: 'False', reason: 'HostDeleted', message: 'host hv-a was deleted with this volume\'s storage' });
  await until('the allocation record of hv-a gone', async () => (await suite.store.get({ kind: ALLOCATION_KIND, namespace: '', name: 'hv-a' })) === undefined, TIMEOUT_MS);
  const records = await until('one topology record, on rack r2', async () => {
    const l = (await suite.store.list<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND, undefined)).items;
    return l.length === 1 && topologyClaimSpec(l[0]).value === 'r2' ? l : undefined;
  }, TIMEOUT_MS);
  expect(topologyClaimSpec(records[0])).toMatchObject({ vm: 'hr/db', host: 'hv-b' });

  // The Manual VM stays where it is (not placed by itself) until its owner changes its spec.
  await sleep(500);
  expect((await getVm('manual'))!.status!.host).toBeUndefined();
  expect((await getVm('manual'))!.status!.phase).toBe('Failed');
  await suite.store.guaranteedUpdate(vmKey('hr', 'manual'), (cur) => {
    cur.spec!.runStrategy = 'Always';
    return cur;
  });
  await boundTo('manual', 'hv-b');
});
