// Domain XML builder: cpu and memory.
import { buildCompute } from '../../agents/domain';

test('states memory in KiB (current = maximum) and a static vCPU count', () => {
  expect(buildCompute({ vcpus: 2, memoryKiB: 1048576, virtType: 'qemu' })).toBe(
    "<memory unit='KiB'>1048576</memory>\n<currentMemory unit='KiB'>1048576</currentMemory>\n<vcpu placement='static'>2</vcpu>",
  );
});

test('passes the host CPU through under KVM only', () => {
  expect(buildCompute({ vcpus: 1, memoryKiB: 1024, virtType: 'kvm' })).toContain("<cpu mode='host-passthrough'/>");
  expect(buildCompute({ vcpus: 1, memoryKiB: 1024, virtType: 'qemu' })).not.toContain('<cpu');
});

test('rejects a zero or fractional vCPU count and non-positive memory', () => {
  expect(() => buildCompute({ vcpus: 0, memoryKiB: 1024, virtType: 'test' })).toThrow(RangeError);
  expect(() => buildCompute({ vcpus: 1.5, memoryKiB: 1024, virtType: 'test' })).toThrow(RangeError);
  expect(() => buildCompute({ vcpus: 1, memoryKiB: 0, virtType: 'test' })).toThrow(RangeError);
});
