// status.interfaces / status.ip from libvirt's answers: matched by MAC, sorted, the guest agent
// before leases, loopback and link-local left out, last known addresses kept (never flapping).
import { compareAddresses, interfacesStatus, isUsableAddress, type AddressAnswer, type SpecNic } from '../../agents/vm/addresses';
import type { DomainInterface } from '../../libvirt';

const fwd = { protocol: 'TCP' as const, port: 22, hostIP: '127.0.0.1', hostPort: 22013 };
const nics: SpecNic[] = [
  { name: 'default', mac: '52:54:00:00:00:01', forwards: [fwd] },
  { name: 'lan', mac: '52:54:00:00:00:02' },
];
const iface = (name: string, hwaddr: string, ...addrs: string[]): DomainInterface => ({
  name, hwaddr, addresses: addrs.map((a) => ({ type: a.includes(':') ? 'ipv6' : 'ipv4', address: a, prefix: a.includes(':') ? 64 : 24 })),
});

test('the guest agent\'s answer: interfaces by MAC, in spec order, sorted addresses, lo and link-local skipped', () => {
  const agent: AddressAnswer = {
    source: 'guest-agent',
    interfaces: [
      iface('lo', '00:00:00:00:00:00', '127.0.0.1', '::1'),
      iface('eth1', '52:54:00:00:00:02', 'fe80::5054:ff:fe00:2', '192.168.10.20', '2001:db8::20', '192.168.10.3'),
      iface('eth0', '52:54:00:00:00:01', 'fec0::5054:ff:fe00:1', '10.0.2.15', '169.254.3.4', 'fd00::15'),
    ],
  };
  expect(interfacesStatus(nics, [agent], undefined)).toEqual({
    ip: '10.0.2.15',
    interfaces: [
      { name: 'default', mac: '52:54:00:00:00:01', interfaceName: 'eth0', ipAddress: '10.0.2.15', ipAddresses: ['10.0.2.15', 'fd00::15'], infoSource: 'guest-agent', forwards: [fwd] },
      { name: 'lan', mac: '52:54:00:00:00:02', interfaceName: 'eth1', ipAddress: '192.168.10.3', ipAddresses: ['192.168.10.3', '192.168.10.20', '2001:db8::20'], infoSource: 'guest-agent' },
    ],
  });
});

test('an interface the agent does not know comes from the lease, which names no guest interface', () => {
  const agent: AddressAnswer = { source: 'guest-agent', interfaces: [iface('eth0', '52:54:00:00:00:01', '10.0.2.15')] };
  const lease: AddressAnswer = { source: 'lease', interfaces: [iface('vnet3', '52:54:00:00:00:02', '192.168.122.7'), iface('vnet2', '52:54:00:00:00:01', '192.168.122.9')] };
  const s = interfacesStatus(nics, [agent, lease], undefined);
  expect(s.interfaces[0]).toMatchObject({ infoSource: 'guest-agent', ipAddress: '10.0.2.15' });
  expect(s.interfaces[1]).toEqual({ name: 'lan', mac: '52:54:00:00:00:02', ipAddress: '192.168.122.7', ipAddresses: ['192.168.122.7'], infoSource: 'lease' });
});

test('no answer (agent not up, query failed) keeps the last known addresses; forwards are there from the start', () => {
  const first = interfacesStatus(nics, [], undefined);
  expect(first).toEqual({ interfaces: [{ name: 'default', mac: '52:54:00:00:00:01', forwards: [fwd] }, { name: 'lan', mac: '52:54:00:00:00:02' }] });
  const known = interfacesStatus(nics, [{ source: 'guest-agent', interfaces: [iface('eth0', '52:54:00:00:00:01', '10.0.2.15')] }], first.interfaces);
  expect(interfacesStatus(nics, [], known.interfaces)).toEqual(known);
  // an answer that lists the interface without a usable address keeps it too
  expect(interfacesStatus(nics, [{ source: 'guest-agent', interfaces: [iface('eth0', '52:54:00:00:00:01', 'fe80::1')] }], known.interfaces)).toEqual(known);
  // but not for another MAC (a new incarnation of the VM)
  const other = [{ ...known.interfaces[0], mac: '52:54:00:99:99:99' }];
  expect(interfacesStatus(nics, [], other).ip).toBeUndefined();
});

test('the same answer gives the same status, whatever order libvirt lists things in', () => {
  const a: AddressAnswer = { source: 'lease', interfaces: [iface('v1', '52:54:00:00:00:02', '10.1.0.9', '10.1.0.10'), iface('v0', '52:54:00:00:00:01', '10.1.0.2')] };
  const b: AddressAnswer = { source: 'lease', interfaces: [iface('v0', '52:54:00:00:00:01', '10.1.0.2'), iface('v1', '52:54:00:00:00:02', '10.1.0.10', '10.1.0.9')] };
  expect(interfacesStatus(nics, [a], undefined)).toEqual(interfacesStatus(nics, [b], undefined));
});

test('the VM\'s ip is the first IPv4 address of the interfaces in order, else the first address', () => {
  expect(interfacesStatus(nics, [{ source: 'lease', interfaces: [iface('v', '52:54:00:00:00:02', '10.9.9.9')] }], undefined).ip).toBe('10.9.9.9');
  expect(interfacesStatus(nics, [{ source: 'lease', interfaces: [iface('v', '52:54:00:00:00:01', '2001:db8::1')] }], undefined).ip).toBe('2001:db8::1');
  expect(interfacesStatus(nics, [{ source: 'guest-agent', interfaces: [iface('e', '52:54:00:00:00:01', '2001:db8::1'), iface('f', '52:54:00:00:00:02', '10.0.0.1')] }], undefined).ip).toBe('10.0.0.1');
});

test('address helpers: usable addresses and their order', () => {
  expect(['10.0.2.15', '2001:db8::1', 'fd00::1'].every(isUsableAddress)).toBe(true);
  expect(['127.0.0.1', '169.254.1.1', '0.0.0.0', '::1', '::', 'fe80::1', 'FE80::2', 'fec0::1', 'junk'].some(isUsableAddress)).toBe(false);
  expect(['10.0.0.10', '2001:db8::1', '10.0.0.9', '9.0.0.1'].sort(compareAddresses)).toEqual(['9.0.0.1', '10.0.0.9', '10.0.0.10', '2001:db8::1']);
});
