// Disks and moves, the pure rules: which disks pin a VM to its host (kube/disks.ts), what unbinding
// keeps of status.volumes, the placement filter on shared pools, the agent's plan keeping an
// unbound VM's volumes, and the disk that lives on a shared pool this host lacks.
import type { VirtualMachineObject } from '../../store';
import type { VirtualMachineSpec, VirtualMachineStatus } from '../../schemas/types.gen';
import { hostSharedPools, pinnedDisks, sharedPoolsNeeded, volumesKeptOnUnbind } from '../../kube/disks';
import { lacksSharedPools } from '../../controllers/placement/filters';
import { plan } from '../../agents/vm/plan';
import { resolveDesired, type HostContext } from '../../agents/vm/desired';
import { loadStorageConfig } from '../../config/storage';

const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';
const vm = (spec: Partial<VirtualMachineSpec>, status?: VirtualMachineStatus): VirtualMachineObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'demo', uid: UID, generation: 1 },
  spec: { cpu: 1, memory: '256Mi', ...spec }, ...(status ? { status } : {}),
});

test('pinned: created local disks that are not ephemeral, and Volume disks; not shared, ephemeral or not-yet-created ones', () => {
  const v = vm(
    { disks: [{ name: 'root', image: 'deb' }, { name: 'tmp', size: '1Gi', ephemeral: true }, { name: 'nfs', image: 'deb' }, { name: 'vol', volume: 'v1' }, { name: 'new', size: '1Gi' }] },
    {
      host: 'hv-1',
      volumes: [
        { name: 'root', path: '/p/root', pool: 'default' }, { name: 'tmp', path: '/p/tmp', pool: 'default' },
        { name: 'nfs', path: '/n/nfs', pool: 'shared', sharedPool: 'nfs-a' }, { name: 'vol', path: '/p/v1', pool: 'default', volume: 'v1' },
      ],
    },
  );
  expect(pinnedDisks(v, 'hv-1').map((p) => p.disk)).toEqual(['root', 'vol']);
  expect(pinnedDisks(v, 'hv-1')[0].why).toBe('disk root lives on local storage of host hv-1 (/p/root) and is not ephemeral');
  expect(volumesKeptOnUnbind(v.status!.volumes)).toEqual([{ name: 'nfs', path: '/n/nfs', pool: 'shared', sharedPool: 'nfs-a' }]);
  expect(sharedPoolsNeeded(v)).toEqual(['nfs-a']);
  expect(pinnedDisks(vm({ disks: [{ name: 'root', image: 'deb' }] }), 'hv-1')).toEqual([]);
});

test('placement: a VM with disks on a shared pool fits only hosts that report that pool', () => {
  const pools = hostSharedPools({ storagePools: [{ name: 'default', shared: false }, { name: 'shared', shared: true, sharedId: 'nfs-a' }] });
  expect(pools).toEqual(['nfs-a']);
  expect(lacksSharedPools({ sharedPools: pools }, ['nfs-a'])).toBeUndefined();
  expect(lacksSharedPools({}, ['nfs-a'])).toBe('no shared storage pool nfs-a');
  expect(lacksSharedPools({}, undefined)).toBeUndefined();
});

test('plan: an unbound VM keeps the volumes it is told to, a deleted one loses them all', () => {
  const observed = {
    volumes: [
      { pool: 'shared', name: 'stratus.demo.web.root.6f1c2a4e', path: '/n/stratus.demo.web.root.6f1c2a4e' },
      { pool: 'default', name: 'stratus.demo.web.tmp.6f1c2a4e', path: '/p/stratus.demo.web.tmp.6f1c2a4e' },
    ],
  };
  const base = { host: 'hv-1', observed, fenced: false, now: 0, shutdownGraceMs: 0 };
  const moved = plan({ ...base, keep: ['shared/stratus.demo.web.root.6f1c2a4e'] });
  expect(moved.actions).toEqual([{ type: 'deleteVolume', pool: 'default', name: 'stratus.demo.web.tmp.6f1c2a4e' }]);
  expect(plan(base).actions.map((a) => a.type)).toEqual(['deleteVolume', 'deleteVolume']);
});

test('desired: a disk on a shared pool this host lacks is never made afresh; on a host with it, it is reused by name and recorded shared', () => {
  const ctx: HostContext = { host: 'hv-2', virtType: 'qemu', consoleDir: '/c', pool: 'default', poolPaths: { default: '/p' }, defaultDiskBytes: 1024 ** 3 };
  const moved = vm({ disks: [{ name: 'data', size: '1Gi' }] }, { volumes: [{ name: 'data', path: '/n/stratus.demo.web.data.6f1c2a4e', pool: 'shared', sharedPool: 'nfs-a' }] });
  const here = resolveDesired(moved, { images: {}, volumes: {} }, ctx);
  expect(here.problem).toMatchObject({ reason: 'DiskOnOtherStorage', terminal: false });
  expect(here.problem!.message).toContain('nfs-a');
  const shared = resolveDesired(moved, { images: {}, volumes: {} }, { ...ctx, pool: 'shared', poolPaths: { shared: '/n' }, sharedPools: { shared: 'nfs-a' } });
  expect(shared.desired!.volumes).toEqual([expect.objectContaining({ pool: 'shared', name: 'stratus.demo.web.data.6f1c2a4e', path: '/n/stratus.demo.web.data.6f1c2a4e', sharedPool: 'nfs-a' })]);
});

test('STRATUS_SHARED_POOLS: comma-separated pool names, bad ones named in the error', () => {
  expect(loadStorageConfig({}).sharedPools).toEqual([]);
  expect(loadStorageConfig({ STRATUS_SHARED_POOLS: 'shared, nfs-a,shared' }).sharedPools).toEqual(['shared', 'nfs-a']);
  expect(() => loadStorageConfig({ STRATUS_SHARED_POOLS: 'ok,bad/name' })).toThrow('STRATUS_SHARED_POOLS: "bad/name" is not a storage pool name');
});
