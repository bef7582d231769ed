// Domain XML builder: network interfaces (user-mode networking by default).
import { buildNetwork, macFor } from '../../agents/domain';

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
