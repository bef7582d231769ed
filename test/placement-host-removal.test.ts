// Deleting a Host object that still has VMs, on a real Cassandra node: nothing moves while the
// host may come back (an agent re-registers its Host at its next heartbeat); once it stayed away
// for T_resched, Always and RerunOnFailure VMs are placed elsewhere, a Manual VM is unbound and
// Failed with a condition saying why (and placed again once its spec changes), a VM being deleted
// is finished, and the host's allocation record and topology claims are cleaned up.
import { VM_FINALIZER } from '../agents/names';
import { ALLOCATION_KIND } from '../controllers/placement/allocation-record';
import { TOPOLOGY_CLAIM_KIND, topologyClaimSpec } from '../controllers/placement/topology-claims';
import { hostObject, vmObject } from '../controllers/testing/fixtures';
import type { RunningReplicas } from '../controllers/testing/replicas';
import type { ObjectStore, StoredObject } from '../store';
import { placementSuite } from './helpers/placement';
import { poll as until } from './helpers/wait';

jest.setTimeout(90_000);

const suite = placementSuite('placement_hostrm');
let store: ObjectStore;
let running: RunningReplicas;
beforeAll(() => {
  store = suite.store;
});

const T_RESCHED = 1500;
const hostKey = (name: string) => ({ kind: 'Host', namespace: '', name });
const getVm = (name: string) => store.get({ kind: 'VirtualMachine', namespace: 'hr', name });
const cond = (o: StoredObject | undefined, type: string) => (o?.status?.conditions as { type: string; status: string; reason?: string; message?: string }[] | undefined)?.find((c) => c.type === type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const boundTo = (name: string, host: string) => until(async () => (await getVm(name))?.status?.host === host);

test('a deleted host\'s VMs are rescheduled, failed or finished after T_resched, and its records are cleaned up', async () => {
  await store.create(hostObject('hv-a', { labels: { rack: 'r1' } }));
  running = await suite.start(2, { enable: { hostHealth: false, audit: false }, hostHealth: { rescheduleMs: T_RESCHED } });
  const group = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };
  await store.create(vmObject('hr', 'always', { runStrategy: 'Always' }));
  await store.create(vmObject('hr', 'rerun', { runStrategy: 'RerunOnFailure' }));
  await store.create(vmObject('hr', 'manual', { runStrategy: 'Manual' }));
  await store.create(vmObject('hr', 'db', { labels: { app: 'db' }, placement: group }));
  const dying = vmObject('hr', 'dying');
  dying.metadata.finalizers = [VM_FINALIZER];
  await store.create(dying);
  for (const n of ['always', 'rerun', 'manual', 'db', 'dying']) await boundTo(n, 'hv-a');
  await store.delete({ kind: 'VirtualMachine', namespace: 'hr', name: 'dying' }); // the agent would finish it
  // Volumes whose storage the agent of hv-a created (host + finalizer), one of them being deleted.
  for (const name of ['vol-kept', 'vol-dying']) {
    await store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name, namespace: 'hr', finalizers: [VM_FINALIZER] },
      spec: { size: '1Gi' }, status: { phase: 'Available', host: 'hv-a' },
    });
  }
  await store.delete({ kind: 'Volume', namespace: 'hr', name: 'vol-dying' });
  await store.create(hostObject('hv-b', { labels: { rack: 'r2' } }));

  // Deleted, and registered again by its agent within T_resched: nothing moves meanwhile or after.
  const stillOnA = async () => {
    for (const n of ['always', 'rerun', 'manual', 'db', 'dying']) expect((await getVm(n))?.status?.host).toBe('hv-a');
  };
  await store.delete(hostKey('hv-a'));
  await sleep(T_RESCHED / 2);
  await stillOnA();
  await store.create(hostObject('hv-a', { labels: { rack: 'r1' } }));
  await sleep(T_RESCHED * 1.5);
  await stillOnA();

  // Deleted for good.
  await store.delete(hostKey('hv-a'));
  await boundTo('always', 'hv-b');
  await boundTo('rerun', 'hv-b');
  await boundTo('db', 'hv-b');
  expect(cond(await getVm('always'), 'Scheduled')).toMatchObject({ status: 'True' });
  const manual = await until(async () => { const v = await getVm('manual'); return v?.status?.phase === 'Failed' ? v : undefined; });
  expect(manual.status!.host).toBeUndefined();
  expect(cond(manual, 'Scheduled')).toMatchObject({
    status: 'False', reason: 'HostDeleted',
    message: 'host hv-a was deleted; a VM with runStrategy Manual is not restarted elsewhere by itself: change its spec (e.g. runStrategy: Always) to place it again',
  });
  expect(cond(manual, 'Ready')).toMatchObject({ status: 'False', reason: 'HostDeleted' });
  await until(async () => (await getVm('dying')) === undefined); // its finalizer was released
  // The Volumes: the one being deleted is gone; the other says its storage went with the host.
  await until(async () => (await store.get({ kind: 'Volume', namespace: 'hr', name: 'vol-dying' })) === undefined);
  const kept = await until(async () => { const v = await store.get({ kind: 'Volume', namespace: 'hr', name: 'vol-kept' }); return v?.status?.phase === 'Failed' ? v : undefined; });
  expect(cond(kept, 'Ready')).toMatchObject({ status: 'False', reason: 'HostDeleted', message: 'host hv-a was deleted with this volume\'s storage' });
  await until(async () => (await store.get({ kind: ALLOCATION_KIND, namespace: '', name: 'hv-a' })) === undefined);
  const records = await until(async () => {
    const l = (await store.list(TOPOLOGY_CLAIM_KIND, undefined)).items;
    return l.length === 1 && topologyClaimSpec(l[0]).value === 'r2' ? l : undefined;
  });
  expect(topologyClaimSpec(records[0])).toMatchObject({ vm: 'hr/db', host: 'hv-b' });

  // The Manual VM stays where it is (not placed by itself) until its owner changes its spec.
  await sleep(500);
  expect((await getVm('manual'))!.status!.host).toBeUndefined();
  expect((await getVm('manual'))!.status!.phase).toBe('Failed');
  await store.guaranteedUpdate({ kind: 'VirtualMachine', namespace: 'hr', name: 'manual' }, (cur) => {
    cur.spec!.runStrategy = 'Always';
    return cur;
  });
  await boundTo('manual', 'hv-b');
});
