// Domain XML builder: disks, with target names per bus.
import { buildDisks, deviceName, diskTargets } from '../../agents/domain';

test('device names count like Linux: vda..vdz, vdaa', () => {
  expect(deviceName('vd', 0)).toBe('vda');
  expect(deviceName('vd', 25)).toBe('vdz');
  expect(deviceName('vd', 26)).toBe('vdaa');
  expect(deviceName('sd', 27)).toBe('sdab');
});

test('virtio disks are vd*, sata and scsi disks share sd*, in spec order', () => {
  expect(diskTargets([{ bus: 'virtio' }, { bus: 'sata' }, { bus: 'virtio' }, { bus: 'scsi' }])).toEqual(['vda', 'sda', 'vdb', 'sdb']);
});

test('each disk is a qcow2 file with its source path and target', () => {
  const xml = buildDisks([
    { name: 'root', path: '/pool/stratus.demo.web.root.0123abcd', format: 'qcow2', bus: 'virtio' },
    { name: 'data', path: "/pool/it's", format: 'raw', bus: 'sata' },
  ]);
  expect(xml).toContain("<source file='/pool/stratus.demo.web.root.0123abcd'/>\n  <target dev='vda' bus='virtio'/>");
  expect(xml).toContain("<driver name='qemu' type='raw'/>\n  <source file='/pool/it&#39;s'/>\n  <target dev='sda' bus='sata'/>");
  expect(buildDisks([])).toBe('');
});

test('the cloud-init seed is the last disk: raw, read-only, the next virtio target after the VM\'s own', () => {
  const xml = buildDisks([
    { name: 'root', path: '/pool/root', format: 'qcow2', bus: 'virtio' },
    { name: 'data', path: '/pool/data', format: 'qcow2', bus: 'sata' },
  ], '/state/seeds/hv-1/demo.web.iso');
  expect(xml.endsWith([
    "<disk type='file' device='disk'>",
    "  <driver name='qemu' type='raw'/>",
    "  <source file='/state/seeds/hv-1/demo.web.iso'/>",
    "  <target dev='vdb' bus='virtio'/>",
    '  <readonly/>',
    "  <alias name='ua-cloudinit'/>",
    '</disk>',
  ].join('\n'))).toBe(true);
  expect(buildDisks([], '/s.iso')).toContain("<target dev='vda' bus='virtio'/>");
});
