// The composed domain XML: libvirt's test driver accepts it, and the managed fields read back
// from libvirt's own rendering equal the ones of the built document (so no false drift).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDomainXml, fingerprintDiff, fingerprintOf, type DomainSpec } from '../../agents/domain';
import { LibvirtConnection, LibvirtExecutor, writeTestHost } from '../../libvirt';

const spec: DomainSpec = {
  name: 'demo.web-1',
  uuid: '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002',
  virtType: 'test',
  vcpus: 2,
  memoryKiB: 2 * 1024 * 1024,
  owner: { uid: '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002', namespace: 'demo', name: 'web-1', host: 'hv-1', generation: 1 },
  boot: { kernel: '/img/vmlinuz', initrd: '/img/initrd', cmdline: 'console=ttyS0' },
  disks: [{ name: 'root', path: '/pool/stratus.demo.web-1.root.6f1c2a4e', format: 'qcow2', bus: 'virtio' }],
  nics: [{ name: 'default', model: 'virtio', mac: '52:54:00:aa:bb:cc' }],
  consoleLog: '/var/log/stratus/demo.web-1.log',
};

test('the document names the domain, its UUID, owner, devices and lifecycle actions', () => {
  const xml = buildDomainXml(spec);
  expect(xml.startsWith("<domain type='test'>\n  <name>demo.web-1</name>\n  <uuid>6f1c2a4e-8d3b-11ee-b9d1-0242ac120002</uuid>")).toBe(true);
  expect(xml).toContain('<on_poweroff>destroy</on_poweroff>');
  expect(xml).toContain('<on_crash>destroy</on_crash>');
  expect(fingerprintOf(xml)).toEqual({
    type: 'test', uuid: spec.uuid, ownerUid: spec.uuid, memoryKiB: 2097152, vcpus: 2,
    kernel: '/img/vmlinuz', initrd: '/img/initrd', cmdline: 'console=ttyS0',
    disks: [{ source: spec.disks[0].path, target: 'vda', bus: 'virtio' }],
    nics: [{ type: 'user', mac: '52:54:00:aa:bb:cc', model: 'virtio', network: undefined }],
    serial: spec.consoleLog,
    qemuArgs: [],
    channels: [],
  });
});

test('libvirt accepts it, and its rendering has the same managed fields', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-builders-'));
  const executor = new LibvirtExecutor({ threads: 1 });
  const conn = await LibvirtConnection.open(await writeTestHost(join(dir, 'h.xml'), { cpus: 4, memoryKiB: 8 << 20 }), { executor });
  try {
    const dom = await conn.defineDomain(buildDomainXml(spec));
    const back = await dom.getXML({ inactive: true });
    dom.free();
    expect(fingerprintDiff(fingerprintOf(buildDomainXml(spec)), fingerprintOf(back))).toEqual([]);
    expect(fingerprintDiff(fingerprintOf(buildDomainXml({ ...spec, vcpus: 3 })), fingerprintOf(back))).toEqual(['vcpus']);
    // with a cloud-init seed: the disk and the hash in the metadata read back as built
    const seeded: DomainSpec = { ...spec, name: 'demo.web-2', uuid: '6f1c2a4e-8d3b-11ee-b9d1-0242ac120003', seed: '/state/seeds/demo.web-2.iso', owner: { ...spec.owner, seed: 'abc' } };
    const dom2 = await conn.defineDomain(buildDomainXml(seeded));
    const back2 = await dom2.getXML({ inactive: true });
    dom2.free();
    expect(fingerprintDiff(fingerprintOf(buildDomainXml(seeded)), fingerprintOf(back2))).toEqual([]);
    expect(fingerprintOf(back2)).toMatchObject({ seed: 'abc', disks: [expect.anything(), { source: '/state/seeds/demo.web-2.iso', target: 'vdb', bus: 'virtio' }] });
  } finally {
    await conn.close();
    await executor.close();
    await rm(dir, { recursive: true, force: true });
  }
});
