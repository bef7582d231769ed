// Placement without I/O: resources, each filter, each policy, preferred affinity, sampling and
// the Unschedulable message.
import { candidateOrder, decide, unschedulableMessage, type ClusterSnapshot, type VmToPlace } from '../../controllers/placement/decide';
import { filterHost, tolerates, type HostView, type PlacedVm } from '../../controllers/placement/filters';
import { PlacedIndex } from '../../controllers/placement/placed-index';
import { PackedHosts } from '../../controllers/placement/packed';
import { hostAllocatable, ZERO, type Resources } from '../../controllers/placement/resources';
import { vmRequest } from '../../kube/resources';
import { derivePhase } from '../../controllers/vm-status';

const Gi = 2 ** 30;

function snap(hosts: HostView[], allocated: Record<string, Resources> = {}, placed: PlacedVm[] = []): ClusterSnapshot {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const idx = new PlacedIndex();
  for (const p of placed) idx.set(p);
  return {
    hosts,
    host: (n) => byName.get(n),
    allocated: (n) => allocated[n] ?? ZERO,
    placedMatching: (ns, sel) => idx.matching(ns, sel),
  };
}

function host(name: string, o: Partial<HostView> = {}): HostView {
  return { name, labels: {}, taints: [], unschedulable: false, ready: true, allocatable: { cpu: 16, memory: 16 * Gi, storage: Infinity }, ...o };
}

function vm(o: Partial<VmToPlace> = {}): VmToPlace {
  return { key: 'p/vm', namespace: 'p', labels: {}, request: { cpu: 1, memory: Gi, storage: 0 }, ...o };
}

describe('resources', () => {
  test('a VM requests its vCPUs, memory and the sizes of its blank and image disks, not its Volumes', () => {
    expect(vmRequest({ spec: { cpu: 2, memory: '2Gi', disks: [{ name: 'root', image: 'deb', size: '10Gi' }, { name: 'd', volume: 'v' }, { name: 'b', size: '1Gi' }] } })).toEqual({
      cpu: 2, memory: 2 * Gi, storage: 11 * Gi,
    });
  });

  test('allocatable is (capacity - reserved) x overcommit, with defaults cpu 4, memory 1, storage 1', () => {
    expect(hostAllocatable({ spec: { reserved: { cpu: 2, memory: '4Gi' } }, status: { capacity: { cpu: 10, memory: '36Gi', storage: '100Gi' } } })).toEqual({
      cpu: 32, memory: 32 * Gi, storage: 100 * Gi,
    });
    expect(hostAllocatable({ spec: { overcommit: { cpu: 1, memory: 1.5 } }, status: { capacity: { cpu: 8, memory: '8Gi' } } })).toEqual({
      cpu: 8, memory: 12 * Gi, storage: Infinity,
    });
    expect(hostAllocatable({ spec: {}, status: {} })).toBeUndefined();
  });
});

describe('filters', () => {
  const input = (o: Partial<Parameters<typeof filterHost>[0]> = {}) => ({ request: { cpu: 1, memory: Gi, storage: 0 }, tolerations: [], terms: [], ...o });

  test('capacity: cpu, memory and storage against what is allocated', () => {
    const h = host('h', { allocatable: { cpu: 4, memory: 4 * Gi, storage: 10 * Gi } });
    expect(filterHost(input(), h, ZERO)).toBeUndefined();
    expect(filterHost(input(), h, { cpu: 3.5, memory: 0, storage: 0 })).toBe('insufficient cpu');
    expect(filterHost(input(), h, { cpu: 0, memory: 3.5 * Gi, storage: 0 })).toBe('insufficient memory');
    expect(filterHost(input({ request: { cpu: 1, memory: Gi, storage: 11 * Gi } }), h, ZERO)).toBe('insufficient storage');
    expect(filterHost(input(), h, { cpu: 3, memory: 3 * Gi, storage: 0 })).toBeUndefined(); // exactly full fits
  });

  test('readiness, cordon and missing capacity', () => {
    expect(filterHost(input(), host('h', { ready: false }), ZERO)).toBe('not ready');
    expect(filterHost(input(), host('h', { unschedulable: true }), ZERO)).toBe('cordoned');
    expect(filterHost(input(), host('h', { allocatable: undefined }), ZERO)).toBe('no capacity reported');
  });

  test('host selector must match every label', () => {
    const h = host('h', { labels: { rack: 'r1', ssd: 'true' } });
    expect(filterHost(input({ hostSelector: [['rack', 'r1']] }), h, ZERO)).toBeUndefined();
    expect(filterHost(input({ hostSelector: [['rack', 'r1'], ['gpu', 'true']] }), h, ZERO)).toBe('host selector mismatch');
  });

  test('taints: NoSchedule and NoExecute repel unless tolerated; PreferNoSchedule only scores', () => {
    const h = host('h', { taints: [{ key: 'maintenance', effect: 'NoSchedule' }] });
    expect(filterHost(input(), h, ZERO)).toBe('untolerated taint');
    expect(filterHost(input({ tolerations: [{ key: 'maintenance', effect: 'NoSchedule' }] }), h, ZERO)).toBeUndefined();
    expect(filterHost(input({ tolerations: [{ operator: 'Exists' }] }), h, ZERO)).toBeUndefined();
    expect(filterHost(input(), host('p', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }), ZERO)).toBeUndefined();
    expect(tolerates([{ key: 'k', value: 'a' }], { key: 'k', value: 'b', effect: 'NoExecute' })).toBe(false);
    expect(tolerates([{ key: 'k', operator: 'Exists', effect: 'NoExecute' }], { key: 'k', value: 'b', effect: 'NoSchedule' })).toBe(false);
  });

  test('required anti-affinity by host and by rack; required affinity; the first of a group goes anywhere', () => {
    const hosts = [host('a', { labels: { rack: 'r1' } }), host('b', { labels: { rack: 'r1' } }), host('c', { labels: { rack: 'r2' } })];
    const placed: PlacedVm[] = [{ key: 'p/web-0', namespace: 'p', labels: { app: 'web' }, host: 'a' }];
    const anti = (topologyKey: string) => vm({ labels: { app: 'web' }, placement: { antiAffinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey }] } });
    expect(decide(anti('host'), snap(hosts, {}, placed)).ranked.map((r) => r.host).sort()).toEqual(['b', 'c']);
    expect(decide(anti('rack'), snap(hosts, {}, placed)).ranked.map((r) => r.host)).toEqual(['c']);
    const d = decide(anti('rack'), snap(hosts, {}, placed));
    expect(d.reasons).toEqual({ 'anti-affinity conflict': 2 });
    const aff = vm({ labels: { app: 'db' }, placement: { affinity: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'rack' }] } });
    expect(decide(aff, snap(hosts, {}, placed)).ranked.map((r) => r.host).sort()).toEqual(['a', 'b']);
    const first = vm({ labels: { app: 'db' }, placement: { affinity: [{ labelSelector: { matchLabels: { app: 'db' } } }] } });
    expect(decide(first, snap(hosts, {}, placed)).ranked).toHaveLength(3);
    // other projects' VMs do not count
    const other = decide(anti('host'), snap(hosts, {}, [{ ...placed[0], namespace: 'q', key: 'q/web-0' }]));
    expect(other.ranked).toHaveLength(3);
  });
});

describe('scores', () => {
  const hosts = [host('empty'), host('half'), host('full')];
  const alloc = { half: { cpu: 8, memory: 8 * Gi, storage: 0 }, full: { cpu: 14, memory: 14 * Gi, storage: 0 } };

  test('pack prefers the fullest feasible host, spread the emptiest', () => {
    expect(decide(vm({ placement: { policy: 'pack' } }), snap(hosts, alloc)).ranked[0].host).toBe('full');
    expect(decide(vm({ placement: { policy: 'spread' } }), snap(hosts, alloc)).ranked[0].host).toBe('empty');
    expect(decide(vm(), snap(hosts, alloc), { defaultPolicy: 'pack' }).ranked[0].host).toBe('full');
  });

  test('load-aware prefers the least loaded host by measured load', () => {
    const loaded = [host('busy', { load: 0.9 }), host('idle', { load: 0.1 }), host('mid', { load: 0.5 })];
    expect(decide(vm({ placement: { policy: 'load-aware' } }), snap(loaded)).ranked.map((r) => r.host)).toEqual(['idle', 'mid', 'busy']);
  });

  test('preferred affinity adds its weight, preferred anti-affinity subtracts it, PreferNoSchedule costs', () => {
    const hs = [host('a'), host('b'), host('c', { taints: [{ key: 'old', effect: 'PreferNoSchedule' }] })];
    const placed: PlacedVm[] = [{ key: 'p/db', namespace: 'p', labels: { app: 'db' }, host: 'b' }];
    const near = vm({ placement: { affinity: [{ labelSelector: { matchLabels: { app: 'db' } }, required: false, weight: 100 }] } });
    expect(decide(near, snap(hs, {}, placed)).ranked[0].host).toBe('b');
    const far = vm({ placement: { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, required: false, weight: 100 }] } });
    const ranked = decide(far, snap(hs, {}, placed)).ranked.map((r) => r.host);
    expect(ranked[0]).toBe('a');
    expect(ranked[2]).toBe('b');
  });
});

describe('decisions', () => {
  test('the Unschedulable message counts the first failing filter of every host', () => {
    const hosts = [
      ...Array.from({ length: 812 }, (_, i) => host(`m${i}`, { allocatable: { cpu: 16, memory: Gi / 2, storage: Infinity } })),
      ...Array.from({ length: 188 }, (_, i) => host(`t${i}`, { taints: [{ key: 'gpu', effect: 'NoSchedule' }] })),
    ];
    const d = decide(vm(), snap(hosts));
    expect(d.ranked).toHaveLength(0);
    expect(unschedulableMessage(d)).toBe('0/1000 hosts fit: 812 insufficient memory, 188 untolerated taint');
    expect(unschedulableMessage(decide(vm(), snap([])))).toBe('0/0 hosts fit: no hosts registered');
  });

  test('a large cluster scores a bounded sample of feasible hosts, starting at a rotating offset', () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => host(`h${String(i).padStart(5, '0')}`));
    const d = decide(vm(), snap(hosts), { sampleSize: 50, startIndex: 9_990 });
    expect(d.evaluated).toBe(50);
    expect(d.ranked).toHaveLength(50);
    expect(d.ranked.map((r) => r.host)).toContain('h09995');
    expect(d.ranked.map((r) => r.host)).toContain('h00005');
  });

  test('a host whose agent lost libvirt gets no VMs, and the message says so', () => {
    const hosts = [host('a', { libvirtDown: true }), host('b', { libvirtDown: true, ready: false }), host('c')];
    expect(decide(vm(), snap(hosts)).ranked.map((r) => r.host)).toEqual(['c']);
    const full = decide(vm({ request: { cpu: 64, memory: Gi, storage: 0 } }), snap(hosts));
    expect(unschedulableMessage(full)).toBe('0/3 hosts fit: 1 insufficient cpu, 1 libvirt unreachable, 1 not ready');
  });

  test('keep: only the best few are returned, in the same order a full ranking gives', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => host(`h${String(i).padStart(3, '0')}`));
    const allocated = Object.fromEntries(hosts.map((h, i) => [h.name, { cpu: (i * 37) % 16, memory: ((i * 11) % 16) * Gi, storage: 0 }]));
    const all = decide(vm(), snap(hosts, allocated), { sampleSize: 150 });
    const top = decide(vm(), snap(hosts, allocated), { sampleSize: 150, keep: 5 });
    expect(top.feasible).toBe(all.feasible);
    expect(top.ranked).toEqual(all.ranked.slice(0, 5));
    for (let i = 1; i < all.ranked.length; i++) expect(all.ranked[i - 1].score).toBeGreaterThanOrEqual(all.ranked[i].score);
  });

  test('with a label index, a host selector scans only the labelled hosts and still counts the others in the message', () => {
    const hosts = Array.from({ length: 1000 }, (_, i) => host(`h${String(i).padStart(4, '0')}`, { labels: i % 100 === 0 ? { disk: 'ssd' } : {}, ready: i !== 1 }));
    const indexed: ClusterSnapshot = { ...snap(hosts), hostsLabeled: (k, v) => hosts.filter((h) => h.labels[k] === v) };
    const d = decide(vm({ placement: { hostSelector: { disk: 'ssd' } } }), indexed);
    expect(d.evaluated).toBe(10);
    expect(d.ranked.map((r) => r.host).sort()).toEqual(hosts.filter((h) => h.labels.disk === 'ssd').map((h) => h.name));
    const full = { cpu: 16, memory: 16 * Gi, storage: 0 };
    const none = decide(vm({ placement: { hostSelector: { disk: 'ssd' } } }), { ...indexed, allocated: (n) => (n.endsWith('00') ? full : ZERO) });
    expect(unschedulableMessage(none)).toBe('0/1000 hosts fit: 989 host selector mismatch, 10 insufficient cpu, 1 not ready');
  });

  test('the packed fast path decides exactly as the host views do (random clusters, every kind of VM)', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      const hosts = Array.from({ length: 300 }, (_, i) => host(`h${String(i).padStart(3, '0')}`, {
        labels: { rack: `r${i % 7}`, ...(rnd() < 0.3 ? { disk: 'ssd' } : {}) },
        taints: rnd() < 0.1 ? [{ key: 'gpu', effect: rnd() < 0.5 ? 'NoSchedule' : 'PreferNoSchedule' }] : [],
        unschedulable: rnd() < 0.05, ready: rnd() > 0.05, libvirtDown: rnd() < 0.05,
        allocatable: rnd() < 0.03 ? undefined : { cpu: 16, memory: 32 * Gi, storage: rnd() < 0.5 ? Infinity : 500 * Gi },
        load: rnd() < 0.5 ? rnd() : undefined,
      }));
      const allocated = Object.fromEntries(hosts.map((h) => [h.name, { cpu: Math.floor(rnd() * 17), memory: Math.floor(rnd() * 33) * Gi, storage: Math.floor(rnd() * 500) * Gi }]));
      const placed = hosts.filter(() => rnd() < 0.2).map((h, i) => ({ key: `p/x${i}`, namespace: 'p', labels: { app: rnd() < 0.5 ? 'db' : 'web' }, host: h.name }));
      const plain: ClusterSnapshot = { ...snap(hosts, allocated, placed), hostsLabeled: (k, v) => hosts.filter((h) => h.labels[k] === v) };
      const packed = new PackedHosts();
      packed.rebuild(hosts, (n) => allocated[n] ?? ZERO);
      const fast: ClusterSnapshot = { ...plain, packed: () => packed };
      const vms = [
        vm({ request: { cpu: 2, memory: 4 * Gi, storage: 10 * Gi } }),
        vm({ request: { cpu: 1, memory: Gi, storage: 0 }, placement: { policy: 'pack' } }),
        vm({ request: { cpu: 4, memory: 8 * Gi, storage: 0 }, placement: { policy: 'load-aware', tolerations: [{ key: 'gpu', operator: 'Exists' }] } }),
        vm({ labels: { app: 'db' }, placement: { antiAffinity: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'rack' }] } }),
        vm({ placement: { hostSelector: { disk: 'ssd' }, affinity: [{ labelSelector: { matchLabels: { app: 'web' } }, required: false, weight: 50 }] } }),
        vm({ placement: { hostSelector: { disk: 'ssd' } } }),
        vm({ placement: { hostSelector: { disk: 'ssd', rack: 'r3' } } }),
        vm({ request: { cpu: 16, memory: 32 * Gi, storage: 0 }, placement: { hostSelector: { disk: 'ssd' } } }),
        vm({ request: { cpu: 64, memory: Gi, storage: 0 } }),
      ];
      for (const v of vms) {
        for (const start of [0, 137]) {
          const o = { sampleSize: 40, startIndex: start, keep: 5 };
          expect(decide(v, fast, o)).toEqual(decide(v, plain, o));
        }
      }
      // And the fast path really reads the packed numbers: hosts packed as not ready fit nowhere.
      packed.data.fill(0);
      expect(decide(vms[0], fast).ranked).toEqual([]);
      expect(decide(vms[0], plain).ranked.length).toBeGreaterThan(0);
    }
  });

  test('candidates: the top few in random order, then the rest best first', () => {
    const ranked = [5, 4, 3, 2, 1].map((s, i) => ({ host: `h${i}`, score: s }));
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const order = candidateOrder(ranked, 3, Math.random);
      expect(order.slice(3)).toEqual(['h3', 'h4']);
      expect([...order.slice(0, 3)].sort()).toEqual(['h0', 'h1', 'h2']);
      seen.add(order[0]);
    }
    expect(seen.size).toBe(3);
  });
});

describe('VM phase', () => {
  const base = { metadata: { name: 'v', generation: 3 }, spec: { cpu: 1, memory: '1Gi' } };
  test('from binding and the agent Ready condition, with observedGeneration from whoever acted', () => {
    expect(derivePhase({ ...base, status: {} }).phase).toBe('Pending');
    expect(derivePhase({ ...base, spec: { ...base.spec, runStrategy: 'Halted' }, status: {} })).toEqual({ phase: 'Stopped', observedGeneration: 3 });
    expect(derivePhase({ ...base, status: { host: 'h' } }).phase).toBe('Scheduled');
    expect(derivePhase({ ...base, status: { host: 'h', conditions: [{ type: 'Ready', status: 'True', observedGeneration: 2 }] } })).toEqual({ phase: 'Running', observedGeneration: 2 });
    expect(derivePhase({ ...base, status: { host: 'h', conditions: [{ type: 'Ready', status: 'False', reason: 'Failed' }] } }).phase).toBe('Failed');
    // the agent's own words for a stopped domain (Halted, a clean guest shutdown) and for one still running
    for (const reason of ['Stopped', 'Halted', 'Succeeded', 'Evicted']) {
      expect(derivePhase({ ...base, status: { host: 'h', domainUUID: 'u', conditions: [{ type: 'Ready', status: 'False', reason }] } }).phase).toBe('Stopped');
    }
    for (const reason of ['Stopping', 'Restarting', 'Paused']) {
      expect(derivePhase({ ...base, status: { host: 'h', domainUUID: 'u', conditions: [{ type: 'Ready', status: 'False', reason }] } }).phase).toBe('Running');
    }
    expect(derivePhase({ ...base, metadata: { ...base.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' }, status: { host: 'h' } }).phase).toBe('Terminating');
  });
});
