// Unbinding a VM from its host (controllers/unbind.ts, shared by host health, drain and host
// removal) clears what addressed that host: the host fields, and a drain's Evicting request,
// which the VM's next host would otherwise obey by stopping it (seen in CI: a VM moved off a
// failed host that was also draining stayed Stopped on its new host). Real Cassandra.
import { changeBoundVm } from '../../controllers/unbind';
import { vmKey, vmObject } from '../helpers/fixtures';
import { openTestStore, type TestStore } from '../helpers/store';
import type { VirtualMachineObject } from '../../store';

const NS = 'unb';
let t: TestStore;

beforeAll(async () => {
  t = await openTestStore('unbind');
});
afterAll(async () => {
  await t?.close();
});

async function boundVm(name: string, host: string, evicting: boolean): Promise<VirtualMachineObject> {
  await t.store.create(vmObject(NS, name));
  return t.store.guaranteedUpdate<VirtualMachineObject>(vmKey(NS, name), (vm) => {
    vm.status = {
      ...(vm.status ?? {}), host, phase: 'Running', domainUUID: '6f1c1f0e-0000-4000-8000-000000000001',
      conditions: [
        { type: 'Scheduled', status: 'True' as const, reason: 'Scheduled', message: `bound to ${host}`, lastTransitionTime: '2026-12-06T00:00:00Z' },
        ...(evicting ? [{ type: 'Evicting', status: 'True' as const, reason: 'HostDrained', message: `host ${host} is being drained`, lastTransitionTime: '2026-12-06T00:00:00Z' }] : []),
      ],
    };
    return vm;
  }, { status: true });
}

test('unbinding clears the host fields and an Evicting request addressed to the old host, and keeps the other conditions', async () => {
  const vm = await boundVm('moved', 'hv-a', true);
  const out = await changeBoundVm({ store: t.store }, vm, 'hv-a', () => 'unbind');
  expect(out.outcome).toBe('unbound');
  const after = (await t.store.get<VirtualMachineObject>(vmKey(NS, 'moved')))!;
  expect(after.status?.host).toBeUndefined();
  expect(after.status?.domainUUID).toBeUndefined();
  expect((after.status?.conditions ?? []).map((c) => c.type)).toEqual(['Scheduled']);
});

test('an update that does not unbind leaves Evicting in place; a VM bound elsewhere is not touched', async () => {
  const vm = await boundVm('staying', 'hv-b', true);
  expect((await changeBoundVm({ store: t.store }, vm, 'hv-b', () => 'update')).outcome).toBe('updated');
  expect((await t.store.get<VirtualMachineObject>(vmKey(NS, 'staying')))!.status?.conditions?.map((c) => c.type)).toEqual(['Scheduled', 'Evicting']);
  expect((await changeBoundVm({ store: t.store }, vm, 'hv-other', () => 'unbind')).outcome).toBeUndefined();
  const after = (await t.store.get<VirtualMachineObject>(vmKey(NS, 'staying')))!;
  expect(after.status?.host).toBe('hv-b');
  expect(after.status?.conditions?.map((c) => c.type)).toEqual(['Scheduled', 'Evicting']);
});
