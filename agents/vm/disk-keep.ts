/**
 * Which volumes of a VM no longer bound to this host the agent leaves in place (plan's `keep`).
 * Unbinding is not deletion: while the VM (same incarnation) exists, its non-ephemeral disks are
 * its data, and any disk on a shared pool is in use (or about to be) by the host it moved to,
 * which reuses the same volume name there; deleting it here would race that host. Once the VM is
 * gone or being deleted, nothing is kept (its current host, or this one's sweep, deletes them).
 */
import type { ObjectStore, VirtualMachineObject } from '../../store';
import { parseVmVolumeName, uidTag } from '../names';
import type { ObservedVolume } from './plan';

export async function volumesToKeep(
  store: Pick<ObjectStore, 'get'>, namespace: string, name: string, volumes: readonly ObservedVolume[],
  sharedId: (pool: string) => string | undefined,
): Promise<string[]> {
  const mine = volumes.filter((v) => parseVmVolumeName(v.name) !== undefined);
  if (mine.length === 0) return [];
  // A quorum read: the cache says the VM is not bound here, not whether it still exists.
  const vm = await store.get<VirtualMachineObject>({ kind: 'VirtualMachine', namespace, name });
  if (!vm || vm.metadata.deletionTimestamp) return [];
  const tag = uidTag(vm.metadata.uid ?? '');
  const disks = new Map((vm.spec.disks ?? []).map((d) => [d.name, d]));
  return mine.flatMap((v) => {
    const p = parseVmVolumeName(v.name)!;
    const disk = disks.get(p.disk);
    if (p.uidTag !== tag || !disk) return [];
    return sharedId(v.pool) !== undefined || !disk.ephemeral ? [`${v.pool}/${v.name}`] : [];
  });
}
