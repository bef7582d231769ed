// kube/resources.ts: what a VM requests, the one rule of placement, quota admission and the agent.
import { isVmOwnedDisk, quantityBytes, vmRequest, ZERO } from '../../kube/resources';
import { amountsOf } from '../../api/quota/amounts';
import { QuantityError } from '../../schemas/quantity';

const Gi = 1024 ** 3;

test('a VM requests its vCPUs, its memory and the sizes of the disks created for it, not its Volumes', () => {
  const spec = { cpu: 2, memory: '2Gi', disks: [{ name: 'root', image: 'deb', size: '10Gi' }, { name: 'd', volume: 'v', size: '5Gi' }, { name: 'b', size: '1Gi' }, { name: 'c', image: 'deb' }] };
  expect(vmRequest({ spec })).toEqual({ cpu: 2, memory: 2 * Gi, storage: 11 * Gi });
  expect(isVmOwnedDisk({ volume: 'v' })).toBe(false);
  expect(isVmOwnedDisk({})).toBe(true);
});

test('quantities round up to whole bytes, everywhere the request is counted', () => {
  expect(quantityBytes('1.5')).toBe(2);
  expect(quantityBytes('1500m')).toBe(2);
  expect(quantityBytes('2Gi')).toBe(2 * Gi);
  expect(vmRequest({ spec: { cpu: 1, memory: '1.5', disks: [{ name: 'b', size: '0.5' }] } })).toEqual({ cpu: 1, memory: 2, storage: 1 });
  // quota admission charges the same numbers
  const vm = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'x' }, spec: { cpu: 1, memory: '1.5', disks: [{ name: 'b', size: '0.5' }] } };
  expect(amountsOf(vm)).toEqual({ vms: 1, cpu: 1, memory: 2, storage: 1 });
});

test('a malformed quantity throws, or counts 0 when asked (quota accounting)', () => {
  const spec = { cpu: 1, memory: '2 GB', disks: [{ name: 'b', size: 'big' }, { name: 'c', size: '1Gi' }] } as never;
  expect(() => vmRequest({ spec })).toThrow(QuantityError);
  expect(vmRequest({ spec }, { invalid: 'zero' })).toEqual({ cpu: 1, memory: 0, storage: Gi });
});

test('no spec, no cpu or a negative cpu request nothing', () => {
  expect(vmRequest({})).toEqual(ZERO);
  expect(vmRequest({ spec: { cpu: -1, memory: '1Gi' } })).toEqual({ cpu: 0, memory: Gi, storage: 0 });
  expect(vmRequest({ spec: { cpu: 'two' as never, memory: '1Gi' } })).toEqual({ cpu: 0, memory: Gi, storage: 0 });
});

test('a quantity above 8Pi (stored before validation refused it) throws, and quota counts it as 8Pi, never 0 or Infinity', () => {
  const spec = { cpu: 1, memory: '1e1000', disks: [{ name: 'b', size: '1e309' }, { name: 'c', size: '1Gi' }] } as never;
  expect(() => vmRequest({ spec })).toThrow(expect.objectContaining({ code: 'InvalidQuantity', tooLarge: true }));
  expect(vmRequest({ spec }, { invalid: 'zero' })).toEqual({ cpu: 1, memory: 2 ** 53, storage: 2 ** 53 + Gi });
  const vol = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Volume', metadata: { name: 'v' }, spec: { size: '1e309' } };
  expect(amountsOf(vol).storage).toBe(2 ** 53);
});
