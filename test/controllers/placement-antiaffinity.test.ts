// Anti-affinity on a real Cassandra node: the symmetric rule (a VM with no rules keeps out of the
// host of a VM whose required anti-affinity selects it, checked inside the host claim's
// compare-and-set), a group spread over racks by three racing replicas (one per rack, through
// TopologyClaim records), their release on deletion, and the audit's repair of those records.
import pino from 'pino';
import { Registry } from 'prom-client';
import { AllocationAudit } from '../../controllers/allocation-audit';
import { PlacementMetrics } from '../../controllers/metrics';
import { ALLOCATION_KIND, claimsOf } from '../../controllers/placement/allocation-record';
import { TOPOLOGY_CLAIM_KIND, topologyClaimSpec } from '../../controllers/placement/topology-claims';
import { hostObject, vmKey, vmObject, conditionOf } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { HostAllocationObject, StoredObject, TopologyClaimObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(90_000);

const suite = placementSuite('placement_anti');
let running: RunningReplicas;

const getVm = async (ns: string, name: string) => (await suite.store.get(vmKey(ns, name)))!;
const cond = conditionOf;
const allOf = async <T extends StoredObject = StoredObject>(kind: string) => (await suite.store.list<T>(kind, undefined, { limit: 1000 })).items;

const TIMEOUT_MS = 30_000;
const boundHost = (ns: string, name: string) => until(`${ns}/${name} bound to a host`, async () => (await getVm(ns, name)).status?.host as string | undefined, TIMEOUT_MS);

test('symmetric: VMs without rules keep off the host of a VM whose required anti-affinity selects them', async () => {
  for (let i = 0; i < 3; i++) await suite.store.create(hostObject(`hv-${i}`, { labels: { slot: String(i) } }));
  running = await suite.start(3, { enable: { audit: false, hostHealth: false }, scheduler: { defaultPolicy: 'pack' } });
  const db = await suite.store.create(vmObject('sym', 'db', {
    labels: { app: 'db' },
    placement: { hostSelector: { slot: '0' }, antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'host' }] },
  }));
  expect(await boundHost('sym', 'db')).toBe('hv-0');
  // the claim carries the rule, so it holds against claims in flight too
  const rec = (await suite.store.get<HostAllocationObject>({ kind: ALLOCATION_KIND, namespace: '', name: 'hv-0' }))!;
  expect(claimsOf(rec)[db.metadata.uid!].antiAffinity).toEqual([{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'host' }]);

  // "pack" prefers the fullest host, hv-0, and the webs have no rules of their own
  const webs = Array.from({ length: 6 }, (_, i) => `web-${i}`);
  await Promise.all(webs.map((n) => suite.store.create(vmObject('sym', n, { labels: { app: 'web' } }))));
  const hosts = await Promise.all(webs.map((n) => boundHost('sym', n)));
  expect(hosts).not.toContain('hv-0');
  // a VM the rule does not select, and a web of another project, may share hv-0
  await suite.store.create(vmObject('sym', 'cache', { labels: { app: 'cache' }, placement: { hostSelector: { slot: '0' } } }));
  await suite.store.create(vmObject('other', 'web', { labels: { app: 'web' }, placement: { hostSelector: { slot: '0' } } }));
  expect(await boundHost('sym', 'cache')).toBe('hv-0');
  expect(await boundHost('other', 'web')).toBe('hv-0');
});

test('a group with required rack anti-affinity placed by three racing replicas gets exactly one VM per rack', async () => {
  const racks = 6;
  for (let r = 0; r < racks; r++) for (let i = 0; i < 4; i++) await suite.store.create(hostObject(`r${r}-hv${i}`, { labels: { rack: `r${r}` } }));
  running = await suite.start(3, { enable: { audit: false, hostHealth: false }, scheduler: { defaultPolicy: 'pack' } });
  const rule = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };
  const names = Array.from({ length: racks }, (_, i) => `db-${i}`);
  await Promise.all(names.map((n) => suite.store.create(vmObject('grp', n, { labels: { app: 'db' }, placement: rule }))));
  const placed = await Promise.all(names.map((n) => boundHost('grp', n)));
  const rackOf = (h: string) => h.slice(0, h.indexOf('-'));
  expect(placed.map(rackOf).sort()).toEqual(Array.from({ length: racks }, (_, r) => `r${r}`));

  // one record per rack, owned by the VM placed there, listed in its allocation claim
  const records = await allOf<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND);
  expect(records.map((o) => topologyClaimSpec(o).value).sort()).toEqual(placed.map(rackOf).sort());
  for (const o of records) {
    const s = topologyClaimSpec(o);
    const vm = await getVm('grp', s.vm.split('/')[1]);
    expect(vm.metadata.uid).toBe(s.uid);
    expect(rackOf(vm.status!.host as string)).toBe(s.value);
    const claim = claimsOf(await suite.store.get({ kind: ALLOCATION_KIND, namespace: '', name: vm.status!.host as string }))[s.uid];
    expect(claim.topologyClaims).toEqual([o.metadata.name]);
  }

  // a seventh member has no rack left
  await suite.store.create(vmObject('grp', 'db-extra', { labels: { app: 'db' }, placement: rule }));
  const extra = await until('grp/db-extra to get a Scheduled condition', async () => { const v = await getVm('grp', 'db-extra'); return cond(v, 'Scheduled') ? v : undefined; }, TIMEOUT_MS);
  expect(cond(extra, 'Scheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable', message: `0/${racks * 4} hosts fit: ${racks * 4} anti-affinity conflict` });

  // deleting a member releases its rack (record and claim), and the waiting member takes it
  const freed = rackOf(placed[2]);
  await suite.store.delete(vmKey('grp', 'db-2'));
  expect(rackOf(await boundHost('grp', 'db-extra'))).toBe(freed);
  const after = await until('the topology record of grp/db-2 handed to grp/db-extra', async () => {
    const recs = await allOf<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND);
    return recs.length === racks && recs.every((o) => topologyClaimSpec(o).vm !== 'grp/db-2') ? recs : undefined;
  }, TIMEOUT_MS);
    expect(topologyClaimSpec(after.find((o) => topologyClaimSpec(o).value === freed)!).vm).toBe('grp/db-extra');
});

test('the audit deletes topology records nobody needs and restores the records of bound members', async () => {
  for (let r = 0; r < 2; r++) await suite.store.create(hostObject(`r${r}-hv`, { labels: { rack: `r${r}` } }));
  running = await suite.start(1, { enable: { audit: false, hostHealth: false } });
  const rule = { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] };
  await suite.store.create(vmObject('aud', 'db-0', { labels: { app: 'db' }, placement: rule }));
  await boundHost('aud', 'db-0');
  const [mine] = await until('one topology record', async () => { const l = await allOf<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND); return l.length === 1 ? l : undefined; }, TIMEOUT_MS);
  // a crash lost the record of db-0, and left one behind for a VM that is gone
  await suite.store.delete({ kind: TOPOLOGY_CLAIM_KIND, namespace: 'aud', name: mine.metadata.name });
  const ghost = { ...topologyClaimSpec(mine), value: 'r9', uid: 'dead-uid', vm: 'aud/ghost', by: 'crashed/1', at: Date.now() - 600_000 };
  await suite.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: TOPOLOGY_CLAIM_KIND, metadata: { namespace: 'aud', name: 'tc-ghost' }, spec: { ...ghost } });

  const r = running.replicas[0];
  // The audit works from the replica's informers: it must have seen db-0 bound (its feed can lag the store).
  const bound = (await getVm('aud', 'db-0')).status!.host;
  await until('aud/db-0 bound in the informer', async () => r.informers.vms.get('aud/db-0')?.status?.host === bound, TIMEOUT_MS);
  const audit = new AllocationAudit({ store: suite.store, informers: r.informers, cache: r.cache, logger: pino({ level: 'silent' }), metrics: new PlacementMetrics(new Registry()), claimGraceMs: 1000 });
  expect((await audit.runOnce()).topology).toEqual({ leaked: 1, missing: 1, conflicts: 0 });
  const now = await allOf<TopologyClaimObject>(TOPOLOGY_CLAIM_KIND);
  expect(now.map((o) => o.metadata.name)).toEqual([mine.metadata.name]);
  expect(topologyClaimSpec(now[0])).toMatchObject({ uid: topologyClaimSpec(mine).uid, value: topologyClaimSpec(mine).value, by: 'audit' });
  expect((await audit.runOnce()).topology).toEqual({ leaked: 0, missing: 0, conflicts: 0 });
});
