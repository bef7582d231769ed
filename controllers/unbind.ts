// Taking VMs off a host, shared by host health (a failed host), the drain controller and host
// removal (a deleted Host): a compare-and-set on the VM's status that applies only while the VM is
// still bound to that host, and the release of what the VM held there (its allocation claim and
// topology claims) once it is unbound, so the capacity and the domain are free at once rather
// than after the next audit.

import { VM_FINALIZER } from '../kube/names';
import type { ObjectStore, StoredObject, VirtualMachineObject } from '../store';
import type { VirtualMachineStatus } from '../schemas/types.gen';
import { releasePlacement } from './placement/claims';
import type { PlacementCache } from './placement/cache';
import type { CachedObject } from '../runtime';
import { ErrorCode, hasCode } from '../errors';
import { volumesKeptOnUnbind } from '../kube/disks';
import { removeCondition } from '../kube/conditions';

/**
 * Status fields that describe a VM on its host; unbinding clears them. status.volumes is cleared
 * too, except its disks on shared storage pools: they move with the VM, and placement and the
 * next host read where they are (kube/disks.ts).
 */
export const HOST_STATUS_FIELDS = ['host', 'domainUUID', 'startTime', 'ip'] as const;

/**
 * Conditions addressed to the host the VM is bound to; unbinding clears them. Evicting (a drain
 * asking that host to stop the VM) left on a VM that moved would make its next host stop it.
 */
export const HOST_CONDITIONS = ['Evicting'] as const;

export interface UnbindDeps {
  store: ObjectStore;
  cache?: PlacementCache;
}

export interface BoundChange {
  /** 'unbound': the binding was removed; 'updated': only the status changed; undefined: nothing written */
  outcome?: 'unbound' | 'updated';
  /** the VM's placement (allocation claim) was released */
  released: boolean;
}

const vmKey = (vm: Pick<StoredObject, 'metadata'>) => ({ kind: 'VirtualMachine', namespace: vm.metadata.namespace ?? '', name: vm.metadata.name });

/**
 * Changes the status of `vm` while it is bound to `host`: `change` edits the status of the
 * current object and answers 'unbind' (the host fields are then cleared), 'update', or undefined
 * to write nothing. Nothing happens to a VM that is gone, replaced or bound elsewhere.
 */
export async function changeBoundVm(
  d: UnbindDeps, vm: CachedObject<VirtualMachineObject>, host: string,
  change: (status: VirtualMachineStatus, cur: VirtualMachineObject) => 'unbind' | 'update' | undefined,
): Promise<BoundChange> {
  let outcome: BoundChange['outcome'];
  try {
    await d.store.guaranteedUpdate<VirtualMachineObject>(vmKey(vm), (cur) => {
      outcome = undefined;
      const st = cur.status;
      if (cur.metadata.uid !== vm.metadata.uid || !st || st.host !== host) return undefined;
      const what = change(st, cur);
      if (!what) return undefined;
      if (what === 'unbind') {
        for (const f of HOST_STATUS_FIELDS) delete st[f];
        if (st.conditions) for (const c of HOST_CONDITIONS) st.conditions = removeCondition(st.conditions, c);
        const kept = volumesKeptOnUnbind(st.volumes);
        if (kept.length > 0) st.volumes = kept;
        else delete st.volumes;
      }
      outcome = what === 'unbind' ? 'unbound' : 'updated';
      return cur;
    }, { status: true });
  } catch (err) {
    if (hasCode(err, ErrorCode.NotFound)) return { released: false };
    throw err;
  }
  const released = outcome === 'unbound' && (await releasePlacement(d.store, host, vm.metadata.uid!, { cache: d.cache }));
  return { outcome, released };
}

/**
 * Finishes deleting `vm` bound to `host` when the host's agent can no longer do it (the host
 * failed or is gone): removes the agent's finalizer, then releases the VM's placement. The
 * agent, if it ever comes back, removes its own orphan domain. True when the finalizer was removed.
 */
export async function finishDeletion(d: UnbindDeps, vm: CachedObject<VirtualMachineObject>, host: string): Promise<boolean> {
  let removed = false;
  try {
    await d.store.guaranteedUpdate<VirtualMachineObject>(vmKey(vm), (cur) => {
      removed = false;
      const fin = cur.metadata.finalizers ?? [];
      if (cur.metadata.uid !== vm.metadata.uid || cur.status?.host !== host || !fin.includes(VM_FINALIZER)) return undefined;
      cur.metadata.finalizers = fin.filter((f) => f !== VM_FINALIZER);
      removed = true;
      return cur;
    });
  } catch (err) {
    if (!hasCode(err, ErrorCode.NotFound)) throw err;
  }
  if (removed) await releasePlacement(d.store, host, vm.metadata.uid!, { cache: d.cache });
  return removed;
}
