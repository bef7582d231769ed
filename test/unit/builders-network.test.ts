// Domain XML builder: network interfaces (user-mode networking by default).
import { buildNetwork, buildQemuCommandline, macFor, userNetArgs } from '../../agents/domain';

test('MACs are stable per VM and interface, in QEMU\'s locally administered range', () => {
  expect(macFor('uid-1', 0)).toBe(macFor('uid-1', 0));
  expect(macFor('uid-1', 0)).not.toBe(macFor('uid-1', 1));
  expect(macFor('uid-1', 0)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
});

test('the default network is user-mode networking; other names are libvirt networks', () => {
  const xml = buildNetwork([
    { name: 'default', model: 'virtio', mac: '52:54:00:00:00:01' },
    { name: 'lan', model: 'e1000', mac: '52:54:00:00:00:02' },
  ]);
  expect(xml).toBe([
    "<interface type='user'>", "  <mac address='52:54:00:00:00:01'/>", "  <model type='virtio'/>", '</interface>',
    "<interface type='network'>", "  <source network='lan'/>", "  <mac address='52:54:00:00:00:02'/>", "  <model type='e1000'/>", '</interface>',
  ].join('\n'));
});

test('on real hosts the default network leaves <interface> for qemu\'s command line; libvirt networks stay', () => {
  const nics = [
    { name: 'lan', model: 'e1000' as const, mac: '52:54:00:00:00:02' },
    { name: 'default', model: 'virtio' as const, mac: '52:54:00:00:00:01' },
  ];
  expect(buildNetwork(nics, { commandLine: true })).toBe(
    ["<interface type='network'>", "  <source network='lan'/>", "  <mac address='52:54:00:00:00:02'/>", "  <model type='e1000'/>", '</interface>'].join('\n'));
  expect(userNetArgs(nics, { address: '127.0.0.1', hostPort: 22013, guestPort: 22 })).toEqual([
    '-netdev', 'user,id=stratus-net0,hostfwd=tcp:127.0.0.1:22013-:22',
    '-device', 'virtio-net-pci,netdev=stratus-net0,mac=52:54:00:00:00:01,bus=pci.0,addr=0x1e',
  ]);
  expect(userNetArgs([{ name: 'default', model: 'e1000', mac: '52:54:00:00:00:03' }])).toEqual([
    '-netdev', 'user,id=stratus-net0', '-device', 'e1000,netdev=stratus-net0,mac=52:54:00:00:00:03,bus=pci.0,addr=0x1e',
  ]);
  expect(userNetArgs([nics[0]])).toEqual([]);
});

test('qemu arguments are passed through <qemu:commandline>, escaped', () => {
  expect(buildQemuCommandline(['-netdev', "user,id='x'"])).toBe(
    ['<qemu:commandline>', "  <qemu:arg value='-netdev'/>", "  <qemu:arg value='user,id=&#39;x&#39;'/>", '</qemu:commandline>'].join('\n'));
  expect(buildQemuCommandline([])).toBe('');
});
