/**
 * Domain XML builder: cpu and memory (<vcpu>, <memory>, <currentMemory>, <cpu>).
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';
import type { DomainSpec } from './types';

export function buildCompute(spec: Pick<DomainSpec, 'vcpus' | 'memoryKiB' | 'virtType'>): string {
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) throw new RangeError(`vcpus must be a positive integer, got ${spec.vcpus}`);
  if (!Number.isSafeInteger(spec.memoryKiB) || spec.memoryKiB < 1) throw new RangeError(`memoryKiB must be a positive integer, got ${spec.memoryKiB}`);
  const lines = [
    `<memory unit='KiB'>${esc(spec.memoryKiB)}</memory>`,
    `<currentMemory unit='KiB'>${esc(spec.memoryKiB)}</currentMemory>`,
    `<vcpu placement='static'>${esc(spec.vcpus)}</vcpu>`,
  ];
  // With KVM the guest sees the host CPU; TCG emulates a portable model; the test driver has none.
  if (spec.virtType === 'kvm') lines.push(`<cpu mode='host-passthrough'/>`);
  return lines.join('\n');
}
