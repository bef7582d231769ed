/**
 * What a Host's status says about its hardware, from what libvirt reports: capacity, allocatable
 * ((capacity - reserved) x overcommit, the formula placement uses) and nodeInfo. Pure.
 */
import type { HostSpec, NodeInfo as NodeInfoStatus, ResourceList } from '../../schemas/types.gen';
import { formatBytes, formatCpu, parseQuantity } from '../../schemas/quantity';
import type { NodeInfo } from '../../libvirt';

export const DEFAULT_OVERCOMMIT = { cpu: 4.0, memory: 1.0, storage: 1.0 } as const;

export interface StorageFacts {
  /** bytes the agent may use in its pool: capacity minus what others' volumes take */
  usableBytes: number;
}

export function hostCapacity(node: NodeInfo, storage: StorageFacts | undefined): ResourceList {
  const out: ResourceList = { cpu: formatCpu(node.cpus), memory: formatBytes(node.memoryKiB * 1024) };
  if (storage) out.storage = formatBytes(Math.max(0, Math.floor(storage.usableBytes)));
  return out;
}

export function hostAllocatable(capacity: ResourceList, spec: HostSpec | undefined): ResourceList {
  const q = (v: string | number | undefined) => (v === undefined ? 0 : parseQuantity(v));
  const reserved = spec?.reserved ?? {};
  const oc = { ...DEFAULT_OVERCOMMIT, ...(spec?.overcommit ?? {}) };
  const one = (c: string | number | undefined, r: string | number | undefined, ratio: number) => Math.max(0, q(c) - q(r)) * ratio;
  const out: ResourceList = {
    cpu: formatCpu(one(capacity.cpu, reserved.cpu, oc.cpu)),
    memory: formatBytes(Math.floor(one(capacity.memory, reserved.memory, oc.memory))),
  };
  if (capacity.storage !== undefined) out.storage = formatBytes(Math.floor(one(capacity.storage, reserved.storage, oc.storage)));
  return out;
}

/** libvirt's version number (major*1e6 + minor*1e3 + micro) as text. */
export function versionString(v: number): string {
  return `${Math.floor(v / 1e6)}.${Math.floor((v % 1e6) / 1e3)}.${v % 1e3}`;
}

export function nodeInfoStatus(
  node: NodeInfo,
  facts: { hostname: string; hypervisor: string; libvirtVersion?: number; kvm: boolean },
): NodeInfoStatus {
  return {
    hostname: facts.hostname,
    arch: node.model,
    cpus: node.cpus,
    mhz: node.mhz,
    numaNodes: node.nodes,
    sockets: node.sockets,
    cores: node.cores,
    threads: node.threads,
    memory: formatBytes(node.memoryKiB * 1024),
    hypervisor: facts.hypervisor,
    ...(facts.libvirtVersion ? { libvirtVersion: versionString(facts.libvirtVersion) } : {}),
    kvm: facts.kvm,
  };
}
