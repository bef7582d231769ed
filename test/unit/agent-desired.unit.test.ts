// resolveDesired(): a VirtualMachine and the Images/Volumes it names → the domain and volumes.
import type { ImageObject, VirtualMachineObject, VolumeObject } from '../../store';
import type { ImageSpec, VirtualMachineSpec, VirtualMachineStatus, VolumeSpec, VolumeStatus } from '../../schemas/types.gen';
import { resolveDesired, type HostContext } from '../../agents/vm/desired';

const ctx: HostContext = { host: 'hv-1', virtType: 'qemu', consoleDir: '/var/log/c/', pool: 'default', poolPaths: { default: '/p', fast: '/ssd' }, defaultDiskBytes: 10 * 1024 ** 3 };
const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';

function vm(spec: Partial<VirtualMachineSpec>): VirtualMachineObject {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'demo', uid: UID, generation: 4 }, spec: { cpu: 2, memory: '512Mi', ...spec } };
}
const image = (spec: ImageSpec): ImageObject => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'i' }, spec });
const volume = (spec: VolumeSpec, status?: VolumeStatus): VolumeObject => ({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'v' }, spec, status });

test('cpu, memory, console log, default user-mode NIC and owner come from the VM', () => {
  const r = resolveDesired(vm({}), { images: {}, volumes: {} }, ctx);
  const d = r.desired!;
  expect(d.domain).toMatchObject({ name: 'demo.web', uuid: UID, virtType: 'qemu', vcpus: 2, memoryKiB: 524288, consoleLog: '/var/log/c/demo.web/serial.log' });
  expect(d.domain.owner).toEqual({ uid: UID, namespace: 'demo', name: 'web', host: 'hv-1', generation: 4 });
  expect(d.domain.nics).toEqual([{ name: 'default', model: 'virtio', mac: expect.stringMatching(/^52:54:00/) }]);
  expect(d.runStrategy).toBe('Always');
});

test('a real host: the serial console is a unix socket in the VM\'s console folder, logged there; VNC a socket beside it', () => {
  const plain = resolveDesired(vm({}), { images: {}, volumes: {} }, ctx).desired!;
  expect(plain.domain).toMatchObject({ consoleLog: '/var/log/c/demo.web/serial.log', consoleSocket: '/var/log/c/demo.web/serial.sock' });
  expect(plain.domain.vncSocket).toBeUndefined();
  expect(plain.xml).toContain("<serial type='unix'>");
  const vnc = resolveDesired(vm({ console: { type: 'vnc' } }), { images: {}, volumes: {} }, ctx).desired!;
  expect(vnc.domain.vncSocket).toBe('/var/log/c/demo.web/vnc.sock');
  expect(vnc.xml).toContain("<graphics type='vnc' socket='/var/log/c/demo.web/vnc.sock'/>");
  // The test driver keeps a log file as its serial port (it has no real character devices).
  const hollow = resolveDesired(vm({ console: { type: 'vnc' } }), { images: {}, volumes: {} }, { ...ctx, virtType: 'test' }).desired!;
  expect(hollow.domain).toMatchObject({ consoleLog: '/var/log/c/demo.web.log' });
  expect(hollow.domain.consoleSocket).toBeUndefined();
  expect(hollow.xml).toContain("<serial type='file'>");
  expect(hollow.xml).toContain("<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
});

test('an image disk is a copy-on-write clone sized by the disk, the image, or the default', () => {
  const img = image({ source: { path: '/images/deb.qcow2' }, size: '3Gi' });
  const r = resolveDesired(vm({ disks: [{ name: 'root', image: 'deb' }, { name: 'big', image: 'deb', size: '20Gi' }, { name: 'raw', image: 'raw' }] }),
    { images: { deb: img, raw: image({ source: { path: '/images/r.img' }, format: 'raw' }) }, volumes: {} }, ctx);
  const vols = r.desired!.volumes;
  expect(vols.map((v) => [v.name, v.capacityBytes, v.owned])).toEqual([
    ['stratus.demo.web.root.6f1c2a4e', 3 * 1024 ** 3, true],
    ['stratus.demo.web.big.6f1c2a4e', 20 * 1024 ** 3, true],
    ['stratus.demo.web.raw.6f1c2a4e', 10 * 1024 ** 3, true],
  ]);
  expect(vols[0].xml).toContain('<path>/images/deb.qcow2</path>');
  expect(vols[2].xml).toContain("<format type='raw'/>\n  </backingStore>");
  expect(r.desired!.domain.disks.map((d) => d.path)).toEqual(vols.map((v) => `/p/${v.name}`));
});

test('a kernel image boots the VM directly and needs no volume', () => {
  const r = resolveDesired(vm({ disks: [{ name: 'boot', image: 'tiny' }] }), { images: { tiny: image({ kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' }) }, volumes: {} }, ctx);
  expect(r.desired!.domain.boot).toEqual({ kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0' });
  expect(r.desired!.volumes).toEqual([]);
  expect(r.desired!.xml).toContain('<kernel>/k</kernel>');
});

test('a Volume disk uses the Volume\'s own libvirt volume in its pool and is not owned by the VM', () => {
  const r = resolveDesired(vm({ disks: [{ name: 'data', volume: 'db' }] }), { images: {}, volumes: { db: volume({ size: '5Gi', pool: 'fast' }) } }, ctx);
  expect(r.desired!.volumes).toEqual([expect.objectContaining({ name: 'stratus.demo.db.vol', pool: 'fast', path: '/ssd/stratus.demo.db.vol', owned: false, volumeObject: 'db' })]);
});

test('missing or unusable references become problems with a reason', () => {
  const none = { images: {}, volumes: {} };
  expect(resolveDesired(vm({ disks: [{ name: 'r', image: 'nope' }] }), none, ctx).problem).toMatchObject({ reason: 'ImageNotFound', terminal: false });
  expect(resolveDesired(vm({ disks: [{ name: 'r', volume: 'nope' }] }), none, ctx).problem).toMatchObject({ reason: 'VolumeNotFound' });
  expect(resolveDesired(vm({ disks: [{ name: 'r', image: 'u' }] }), { images: { u: image({ source: { url: 'https://x/y.qcow2' } }) }, volumes: {} }, ctx).problem)
    .toMatchObject({ reason: 'ImageNotAvailable', terminal: true });
  expect(resolveDesired(vm({ disks: [{ name: 'r', volume: 'v' }] }), { images: {}, volumes: { v: volume({ size: '1Gi' }, { host: 'hv-9' }) } }, ctx).problem)
    .toMatchObject({ reason: 'VolumeOnOtherHost', terminal: true });
  expect(resolveDesired(vm({ memory: 'lots' }), none, ctx).problem).toMatchObject({ reason: 'InvalidSpec', terminal: true });
  expect(resolveDesired(vm({ disks: [{ name: 'r', size: '1Gi' }] }), none, { ...ctx, poolPaths: {} }).problem).toMatchObject({ reason: 'PoolNotFound' });
});

test('everStarted holds only for this incarnation on this host', () => {
  const started = (status: VirtualMachineStatus) => resolveDesired({ ...vm({}), status }, { images: {}, volumes: {} }, ctx).desired!.everStarted;
  expect(started({ host: 'hv-1', domainUUID: UID, startTime: '2024-01-01T00:00:00Z' })).toBe(true);
  expect(started({ host: 'hv-1', domainUUID: UID })).toBe(false);
  expect(started({ host: 'hv-2', domainUUID: UID, startTime: '2024-01-01T00:00:00Z' })).toBe(false);
  expect(started({ host: 'hv-1', domainUUID: 'other', startTime: '2024-01-01T00:00:00Z' })).toBe(false);
});

test('a Volume being deleted is refused to a VM that does not use it yet, and kept by one that does', () => {
  const going: VolumeObject = { ...volume({ size: '1Gi' }, { host: 'hv-1', pool: 'default' }), metadata: { name: 'v', deletionTimestamp: '2024-01-01T00:00:00Z' } };
  const refs = { images: {}, volumes: { v: going } };
  expect(resolveDesired(vm({ disks: [{ name: 'd', volume: 'v' }] }), refs, ctx).problem).toMatchObject({ reason: 'VolumeTerminating', terminal: false });
  const attached = { ...vm({ disks: [{ name: 'd', volume: 'v' }] }), status: { host: 'hv-1', volumes: [{ name: 'd', path: '/p/stratus.demo.v.vol', volume: 'v' }] } };
  expect(resolveDesired(attached, refs, ctx).desired!.volumes.map((v) => v.path)).toEqual(['/p/stratus.demo.v.vol']);
});

test('a Volume held here stays in the pool it was created in, whatever spec.pool says later', () => {
  const moved = volume({ size: '1Gi', pool: 'fast' }, { host: 'hv-1', pool: 'default' });
  const r = resolveDesired(vm({ disks: [{ name: 'd', volume: 'v' }] }), { images: {}, volumes: { v: moved } }, ctx);
  expect(r.desired!.volumes[0]).toMatchObject({ pool: 'default', path: '/p/stratus.demo.v.vol' });
});
