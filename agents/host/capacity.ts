/**
 * What a Host's status says about its hardware, from what libvirt reports: capacity, allocatable
 * (kube/capacity.ts: (capacity - reserved) x overcommit rounded down, the rule placement uses) and nodeInfo. Pure.
 */
import type { HostSpec, NodeInfo as NodeInfoStatus, ResourceList } from '../../schemas/types.gen';
import { formatBytes, formatCpu } from '../../schemas/quantity';
import { allocatableOf } from '../../kube/capacity';
import type { NodeInfo } from '../../libvirt';

export interface StorageFacts {
  /** bytes the agent may use in its pool: capacity minus what others' volumes take */
  usableBytes: number;
}

export function hostCapacity(node: NodeInfo, storage: StorageFacts | undefined): ResourceList {
  const out: ResourceList = { cpu: formatCpu(node.cpus), memory: formatBytes(node.memoryKiB * 1024) };
  if (storage) out.storage = formatBytes(Math.max(0, Math.floor(storage.usableBytes)));
  return out;
}

/** status.allocatable as the agent publishes it: allocatableOf() in Kubernetes quantities. */
export function hostAllocatable(capacity: ResourceList, spec: HostSpec | undefined): ResourceList {
  const a = allocatableOf(capacity, spec);
  const out: ResourceList = { cpu: formatCpu(a.cpu), memory: formatBytes(a.memory) };
  if (a.storage !== undefined) out.storage = formatBytes(a.storage);
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
