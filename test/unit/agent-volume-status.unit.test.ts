// volumeStatus(): what the agent reports on a Volume whose storage it holds. Pure.
import { volumeStatus, type VolumeFacts } from '../../agents/volume/status';

const NOW = Date.parse('2024-05-01T10:00:00Z');
const base: VolumeFacts = { namespace: 'demo', host: 'hv-1', pool: 'default', generation: 2, deleting: false, users: [] };
const storage = { path: '/p/stratus.demo.d.vol', capacityBytes: 2 * 1024 ** 3, allocationBytes: 196_608 };

test('no storage yet: Pending, Creating, with host and pool but no path', () => {
  const s = volumeStatus({}, base, NOW);
  expect(s).toMatchObject({ phase: 'Pending', host: 'hv-1', pool: 'default', observedGeneration: 2 });
  expect(s.path).toBeUndefined();
  expect(s.conditions).toEqual([{ type: 'Ready', status: 'False', reason: 'Creating', message: 'creating the libvirt volume in pool default on host hv-1', observedGeneration: 2, lastTransitionTime: '2024-05-01T10:00:00Z' }]);
});

test('created and unused: Available with path, capacity and allocation; used: InUse naming the VMs', () => {
  const available = volumeStatus({}, { ...base, storage }, NOW);
  expect(available).toMatchObject({ phase: 'Available', path: storage.path, capacity: '2Gi', allocation: '192Ki' });
  expect(available.usedBy).toBeUndefined();
  expect(available.conditions![0]).toMatchObject({ status: 'True', reason: 'Available' });
  const used = volumeStatus(available, { ...base, storage, users: ['a', 'b'] }, NOW + 60_000);
  expect(used).toMatchObject({ phase: 'InUse', usedBy: ['a', 'b'] });
  expect(used.conditions![0]).toMatchObject({ status: 'True', reason: 'InUse', message: 'in pool default on host hv-1, used by VirtualMachine demo/a, VirtualMachine demo/b' });
  // Ready stayed True: its lastTransitionTime is kept.
  expect(used.conditions![0].lastTransitionTime).toBe('2024-05-01T10:00:00Z');
});

test('deleted: Terminating, and while VMs use it the message names them', () => {
  const held = volumeStatus({}, { ...base, storage, users: ['web'], deleting: true }, NOW);
  expect(held.phase).toBe('Terminating');
  expect(held.conditions![0]).toMatchObject({ status: 'False', reason: 'InUse', message: 'deleted, but in use by VirtualMachine demo/web: the volume goes once no VM uses it' });
  const going = volumeStatus(held, { ...base, storage, deleting: true }, NOW);
  expect(going.conditions![0]).toMatchObject({ status: 'False', reason: 'Deleting' });
  expect(going.usedBy).toBeUndefined();
});

test('a problem: Failed when retrying cannot help, else Pending; fields others wrote are kept, vanished storage is forgotten', () => {
  const prev = { phase: 'Available' as const, path: storage.path, capacity: '2Gi', conditions: [{ type: 'Backup', status: 'True' as const }] };
  const failed = volumeStatus(prev, { ...base, problem: { reason: 'InvalidSpec', message: 'bad size', terminal: true } }, NOW);
  expect(failed).toMatchObject({ phase: 'Failed' });
  expect(failed.path).toBeUndefined();
  expect(failed.capacity).toBeUndefined();
  expect(failed.conditions!.map((c) => [c.type, c.status, c.reason])).toEqual([['Backup', 'True', undefined], ['Ready', 'False', 'InvalidSpec']]);
  expect(volumeStatus({}, { ...base, problem: { reason: 'ImageNotFound', message: 'no image', terminal: false } }, NOW).phase).toBe('Pending');
});
