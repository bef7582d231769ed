// Three scheduler replicas, 200 hosts of tight capacity, 2,000 VMs created at once: no host ends
// over its allocatable capacity (computed from the VMs bound to it, not from the allocation
// records), every VM left unplaced fits on no host, the allocation records equal the bound VMs,
// and the conflicts the replicas ran into are counted in their metrics.
import { claimsOf, ALLOCATION_KIND } from '../../controllers/placement/allocation-record';
import { hostAllocatable, firstShortage, type Resources } from '../../controllers/placement/resources';
import { vmRequest } from '../../kube/resources';
import { hostObject, pool, vmObject } from '../helpers/fixtures';
import type { RunningReplicas } from '../helpers/replicas';
import type { Host, VirtualMachine } from '../../schemas/types.gen';
import type { HostAllocationObject, StoredObject } from '../../store';
import { placementSuite } from '../helpers/placement';
import { until } from '../helpers/wait';

jest.setTimeout(180_000);

const suite = placementSuite('placement_scale', { followerGraceMs: 300, followerOverlapMs: 500 });
let running: RunningReplicas;

async function listAll<T extends StoredObject = StoredObject>(kind: string): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await suite.store.list<T>(kind, undefined, { limit: 1000, continue: cont });
    out.push(...page.items);
    cont = page.continue;
  } while (cont);
  return out;
}

const HOSTS = 200;
const VMS = 2000;

test('3 replicas place 2,000 VMs on 200 tight hosts with no host over capacity and no VM left that could fit', async () => {
  // 200 hosts: 12 vCPUs and 16 GiB allocatable each (half of them through reserved capacity).
  await pool(Array.from({ length: HOSTS }, (_, i) => i), 32, (i) => suite.store.create(hostObject(`hv-${String(i).padStart(3, '0')}`, i % 2
    ? { cpu: 12, memory: '16Gi' }
    : { cpu: 13, memory: '17Gi', reserved: { cpu: 1, memory: '1Gi' } })));
  // VMs: 60 % 1 vCPU/1 GiB, 30 % 1 vCPU/2 GiB, 10 % 2 vCPU/4 GiB: 3,200 GiB asked of 3,200 GiB.
  const sizes = (i: number) => (i % 10 < 6 ? { cpu: 1, memory: '1Gi' } : i % 10 < 9 ? { cpu: 1, memory: '2Gi' } : { cpu: 2, memory: '4Gi' });
  running = await suite.start(3, {
    informer: { pollIntervalMs: 100 },
    enable: { hostHealth: false },
    scheduler: { workers: 6, unschedulableRetryMs: 5_000 },
    audit: { periodMs: 4_000, claimGraceMs: 20_000 },
  });
  const started = Date.now();
  await pool(Array.from({ length: VMS }, (_, i) => i), 48, (i) => suite.store.create(vmObject(`p${i % 4}`, `vm-${i}`, sizes(i))));

  // Wait until every VM is bound or says it is unschedulable, and nothing unbound fits anywhere:
  // watch replica 0's cache (cheap), then confirm from the suite.store.
  const cache = running.replicas[0].informers;
  const [vms, hosts] = await until('every VM bound or Unschedulable, and no unbound VM that fits a host', async () => {
    const cached = cache.vms.list() as StoredObject[];
    const decided = cached.filter((v) => v.status?.host || (v.status?.conditions as { type: string; reason?: string }[] | undefined)?.some((c) => c.type === 'Scheduled' && c.reason === 'Unschedulable'));
    if (process.env.PLACEMENT_TRACE) process.stderr.write(`t=${((Date.now() - started) / 1000).toFixed(1)} bound=${cached.filter((v) => v.status?.host).length} decided=${decided.length}\n`);
    if (decided.length < VMS || unplacedThatFit(cached, cache.hosts.list() as StoredObject[]).length > 0) return undefined;
    const stored = [await listAll('VirtualMachine'), await listAll('Host')] as const;
    return unplacedThatFit(...stored).length === 0 && stored[0].every((v) => v.status?.host || v.status?.conditions) ? stored : undefined;
  }, { timeoutMs: 150_000, everyMs: 500 });
  const elapsed = (Date.now() - started) / 1000;

  const used = usage(vms);
  const bound = vms.filter((v) => v.status?.host);
  expect(vms).toHaveLength(VMS);
  expect(hosts).toHaveLength(HOSTS);
  // no host over its allocatable capacity, from the bound VMs
  for (const h of hosts) {
    const alloc = hostAllocatable(h as unknown as Host)!;
    const u = used.get(h.metadata.name) ?? { cpu: 0, memory: 0, storage: 0 };
    expect({ host: h.metadata.name, cpu: u.cpu <= alloc.cpu, memory: u.memory <= alloc.memory }).toEqual({ host: h.metadata.name, cpu: true, memory: true });
  }
  // every VM that can fit is placed
  expect(unplacedThatFit(vms, hosts)).toEqual([]);
  expect(bound.length).toBeGreaterThan(VMS * 0.95);
  // the allocation records match the bound VMs exactly (no leaked or missing claims)
  const records = await listAll<HostAllocationObject>(ALLOCATION_KIND);
  const claimed = new Map(records.map((r) => [r.metadata.name, Object.keys(claimsOf(r)).sort()]));
  for (const h of hosts) {
    const want = bound.filter((v) => v.status!.host === h.metadata.name).map((v) => v.metadata.uid!).sort();
    expect(claimed.get(h.metadata.name) ?? []).toEqual(want);
  }
  // each VM bound exactly once, by one replica's successful bind
  const placements = await running.counter('stratus_scheduler_placements_total');
  expect(placements).toBe(bound.length);
  const conflicts = await running.counter('stratus_scheduler_conflicts_total');
  process.stderr.write(`placement-scale: ${bound.length}/${VMS} placed in ${elapsed.toFixed(1)}s by 3 replicas; conflicts ${conflicts} `
    + `(claim ${await running.counter('stratus_scheduler_conflicts_total', { stage: 'claim' })}, bind ${await running.counter('stratus_scheduler_conflicts_total', { stage: 'bind' })}, `
    + `stale ${await running.counter('stratus_scheduler_conflicts_total', { stage: 'stale' })}, taken ${await running.counter('stratus_scheduler_conflicts_total', { stage: 'taken' })})\n`);
});

function usage(vms: StoredObject[]): Map<string, Resources> {
  const used = new Map<string, Resources>();
  for (const v of vms) {
    const h = v.status?.host as string | undefined;
    if (!h) continue;
    const r = vmRequest(v as unknown as VirtualMachine);
    const u = used.get(h) ?? { cpu: 0, memory: 0, storage: 0 };
    used.set(h, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, storage: u.storage + r.storage });
  }
  return used;
}

/** Unbound VMs that would fit on some host given what the bound VMs use. */
function unplacedThatFit(vms: StoredObject[], hosts: StoredObject[]): string[] {
  const used = usage(vms);
  const out: string[] = [];
  for (const v of vms) {
    if (v.status?.host) continue;
    const r = vmRequest(v as unknown as VirtualMachine);
    for (const h of hosts) {
      const alloc = hostAllocatable(h as unknown as Host)!;
      if (!firstShortage(r, used.get(h.metadata.name) ?? { cpu: 0, memory: 0, storage: 0 }, alloc)) {
        out.push(`${v.metadata.namespace}/${v.metadata.name} fits ${h.metadata.name}`);
        break;
      }
    }
  }
  return out;
}
