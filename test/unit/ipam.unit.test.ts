// The pure parts of address management and network placement: the k-th usable address, how a
// VM's interfaces resolve to Networks (each reason), the host filter on network modes, and a
// replica's claim cache (assumed claims, reservations, expiry).
import { AddressClaimCache, nthUsable, resolveNetworks, type KnownClaim } from '../../controllers/ipam';
import { cannotAttach, filterHost, type HostView } from '../../controllers/placement/filters';
import { decide, unschedulableMessage, type ClusterSnapshot } from '../../controllers/placement/decide';
import { ipv4ToNumber, usableRanges } from '../../kube/networks';
import type { NetworkObject, VirtualMachineObject } from '../../kube/types';

const net = (ns: string, name: string, spec: NetworkObject['spec'], extra: Partial<NetworkObject['metadata']> = {}): NetworkObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { namespace: ns, name, uid: `uid-${name}`, generation: 1, ...extra }, spec,
});
const vm = (networks: NonNullable<VirtualMachineObject['spec']['networks']>): VirtualMachineObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { namespace: 'p', name: 'v', uid: 'vm-uid' }, spec: { cpu: 1, memory: '1Gi', networks },
});

test('nthUsable walks the usable ranges: network, broadcast, gateway and reserved addresses are skipped', () => {
  const ranges = usableRanges({ cidr: '10.0.0.0/28', reserved: ['10.0.0.5-10.0.0.6'] });
  expect(nthUsable(ranges, 0)).toBe(ipv4ToNumber('10.0.0.2'));
  expect(nthUsable(ranges, 2)).toBe(ipv4ToNumber('10.0.0.4'));
  expect(nthUsable(ranges, 3)).toBe(ipv4ToNumber('10.0.0.7'));
  expect(nthUsable(ranges, 10)).toBe(ipv4ToNumber('10.0.0.14'));
  expect(() => nthUsable(ranges, 11)).toThrow(RangeError);
});

test('resolveNetworks: each reason a VM interface cannot have an address, and the interfaces when all can', () => {
  const nets = new Map<string, NetworkObject>([
    ['p/lan', net('p', 'lan', { cidr: '10.0.0.0/24' })],
    ['q/private', net('q', 'private', { cidr: '10.1.0.0/24' })],
    ['q/shared', net('q', 'shared', { cidr: '10.2.0.0/24', shared: true })],
    ['p/going', net('p', 'going', { cidr: '10.3.0.0/24' }, { deletionTimestamp: '2026-01-01T00:00:00Z' })],
    ['p/bad', net('p', 'bad', { cidr: '10.4.0.0/24', gateway: '10.9.9.9' })],
  ]);
  const lookup = (ns: string, name: string) => nets.get(`${ns}/${name}`);
  const r = (networks: Parameters<typeof vm>[0]) => resolveNetworks(vm(networks), lookup);
  expect(r([{ name: 'eth0', network: 'nope' }])).toEqual({ ok: false, reason: 'NetworkNotFound', message: 'interface eth0: network nope not found' });
  expect(r([{ name: 'eth0', network: 'q/private' }])).toMatchObject({ reason: 'NetworkNotFound', message: 'interface eth0: network q/private is not shared with project p' });
  expect(r([{ name: 'eth0', network: 'going' }])).toMatchObject({ reason: 'NetworkNotReady', message: 'interface eth0: network going is being deleted' });
  expect(r([{ name: 'eth0', network: 'bad' }])).toMatchObject({ reason: 'NetworkNotReady', message: 'interface eth0: network bad is not ready: spec.gateway 10.9.9.9 is not a usable address of 10.4.0.0/24' });
  expect(r([{ name: 'eth0', network: 'lan', ipAddress: '10.0.0.1' }])).toMatchObject({ reason: 'InvalidAddress' });
  expect(r([{ name: 'eth0', network: 'lan', ipAddress: '10.0.0.255' }])).toMatchObject({ reason: 'InvalidAddress' });
  const ok = r([{ name: 'default' }, { name: 'eth1', network: 'lan', ipAddress: '10.0.0.9' }, { name: 'eth2', network: 'q/shared' }]);
  expect(ok.ok && ok.interfaces.map((i) => [i.index, i.name, i.spelled, i.network.metadata.name, i.ipAddress])).toEqual([
    [1, 'eth1', 'lan', 'lan', '10.0.0.9'], [2, 'eth2', 'q/shared', 'shared', undefined],
  ]);
});

const host = (name: string, networking?: HostView['networking']): HostView => ({
  name, labels: {}, taints: [], unschedulable: false, ready: true, allocatable: { cpu: 8, memory: 2 ** 34, storage: 0 }, ...(networking ? { networking } : {}),
});

test('the network filter: a host must build every mode the VM needs (bridge: on the named interface); hosts without networking take none', () => {
  const overlay = { name: 'ov', mode: 'overlay' as const };
  const bridge = { name: 'br', mode: 'bridge' as const, interface: 'eth1' };
  expect(cannotAttach(host('a', { modes: ['nat', 'overlay'], interfaces: [] }), overlay)).toBeUndefined();
  expect(cannotAttach(host('a', { modes: ['nat'], interfaces: [] }), overlay)).toBe('cannot attach network ov (mode overlay)');
  expect(cannotAttach(host('a'), { name: 'lan', mode: 'nat' })).toBe('cannot attach network lan (mode nat)');
  expect(cannotAttach(host('a', { modes: ['bridge'], interfaces: ['eth0'] }), bridge)).toBe('cannot attach network br (mode bridge on eth1)');
  expect(cannotAttach(host('a', { modes: ['bridge'], interfaces: ['eth1'] }), bridge)).toBeUndefined();
  const input = { request: { cpu: 1, memory: 1, storage: 0 }, tolerations: [], terms: [], networks: [overlay] };
  expect(filterHost(input, host('a', { modes: ['nat'], interfaces: [] }), { cpu: 0, memory: 0, storage: 0 })).toBe('cannot attach network ov (mode overlay)');

  const hosts = [host('h1', { modes: ['nat'], interfaces: [] }), host('h2'), host('h3', { modes: ['nat', 'overlay'], interfaces: [] })];
  const snap: ClusterSnapshot = { hosts, host: (n) => hosts.find((h) => h.name === n), allocated: () => ({ cpu: 0, memory: 0, storage: 0 }), placedMatching: () => [] };
  const d = decide({ key: 'p/v', namespace: 'p', labels: {}, request: { cpu: 1, memory: 1, storage: 0 }, networks: [overlay] }, snap);
  expect(d.ranked.map((x) => x.host)).toEqual(['h3']);
  const none = decide({ key: 'p/v', namespace: 'p', labels: {}, request: { cpu: 1, memory: 1, storage: 0 }, networks: [bridge] }, snap);
  expect(unschedulableMessage(none)).toBe('0/3 hosts fit: 3 cannot attach network br (mode bridge on eth1)');
});

test('the claim cache: assumed claims count until the informer confirms them or they expire; reservations keep workers apart', () => {
  let now = 1000;
  const cache = new AddressClaimCache(undefined, { assumeTtlMs: 30_000, now: () => now });
  const claim = (address: string, uid: string): KnownClaim => ({
    namespace: 'p', name: `lan.${address}`, objectUid: `o-${address}`,
    spec: { network: 'lan', networkUID: 'n1', address, uid, vm: `p/${uid}`, interface: 'eth0', by: 'r/1', at: now },
  });
  const a = ipv4ToNumber('10.0.0.5')!;
  expect(cache.isUsed('p', 'lan', a)).toBe(false);
  cache.reserve('p', 'lan', a);
  expect(cache.isUsed('p', 'lan', a)).toBe(true);
  cache.unreserve('p', 'lan', a);
  expect(cache.isUsed('p', 'lan', a)).toBe(false);
  cache.assume(claim('10.0.0.5', 'vm1'));
  expect(cache.isUsed('p', 'lan', a)).toBe(true);
  expect(cache.isUsed('p', 'other', a)).toBe(false);
  expect(cache.ofVm('vm1').map((c) => c.spec.address)).toEqual(['10.0.0.5']);
  cache.forget('p', 'lan.10.0.0.5');
  expect(cache.isUsed('p', 'lan', a)).toBe(false);
  expect(cache.ofVm('vm1')).toEqual([]);
  cache.assume(claim('10.0.0.5', 'vm1'));
  now += 31_000; // never confirmed by the informer
  expect(cache.isUsed('p', 'lan', a)).toBe(false);
  expect(cache.ofVm('vm1')).toEqual([]);
});
