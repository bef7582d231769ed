/**
 * Whether a VM's disks can move with it, one rule for drain, host health, unbind and placement.
 * A disk cloned from an Image (or a blank one) is the VM's data unless declared `ephemeral`; it
 * can move only while it lives on a storage pool shared by several hosts (status.volumes[].sharedPool).
 * A Volume object's disk stays on its Volume's host. Pure.
 */
import type { DiskStatus, HostStatus, VirtualMachineSpec, VirtualMachineStatus } from '../schemas/types.gen';

type VmLike = { spec: Pick<VirtualMachineSpec, 'disks'>; status?: Pick<VirtualMachineStatus, 'volumes'> };

/** A disk that keeps the VM on its host, and why (a phrase naming the disk). */
export interface PinnedDisk {
  disk: string;
  why: string;
}

/**
 * The disks that would be lost (or cannot follow) if `vm` left `host`: non-ephemeral disks whose
 * storage exists (status.volumes) on a pool that is not shared, and Volume-backed disks not on a
 * shared pool. A disk not created yet holds no data and does not count.
 */
export function pinnedDisks(vm: VmLike, host: string): PinnedDisk[] {
  const where = new Map((vm.status?.volumes ?? []).map((v) => [v.name, v]));
  const out: PinnedDisk[] = [];
  for (const d of vm.spec.disks ?? []) {
    const st = where.get(d.name);
    if (!st || st.sharedPool) continue;
    if (d.volume) out.push({ disk: d.name, why: `disk ${d.name} (Volume ${d.volume}) lives on host ${host}` });
    else if (!d.ephemeral) out.push({ disk: d.name, why: `disk ${d.name} lives on local storage of host ${host}${st.path ? ` (${st.path})` : ''} and is not ephemeral` });
  }
  return out;
}

/** What status.volumes keeps when a VM is unbound: the disks on shared pools (they move with it). */
export function volumesKeptOnUnbind(volumes: readonly DiskStatus[] | undefined): DiskStatus[] {
  return (volumes ?? []).filter((v) => v.sharedPool !== undefined && v.volume === undefined);
}

/** The shared pools (sharedId) a VM's existing disks live on: a host must have them all to run it. */
export function sharedPoolsNeeded(vm: Pick<VmLike, 'status'>): string[] {
  return [...new Set((vm.status?.volumes ?? []).flatMap((v) => (v.sharedPool && !v.volume ? [v.sharedPool] : [])))];
}

/** The shared pools (sharedId) a host reports. */
export function hostSharedPools(status: Pick<HostStatus, 'storagePools'> | undefined): string[] {
  return (status?.storagePools ?? []).flatMap((p) => (p.shared && p.sharedId ? [p.sharedId] : []));
}
