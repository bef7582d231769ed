// Releases the addresses of deleted VMs: when a VM goes (or a claim shows up whose VM this
// replica does not know), its AddressClaims are deleted by compare-and-set, each only if it still
// belongs to a VM uid that no longer exists (confirmed by a read at SERIAL, since the informer may
// lag a VM just created). A VM being deleted keeps its addresses until its object is gone: its
// domain may still run. What a crash leaves is the audit's (address-claim-audit.ts).

import type { Logger } from 'pino';
import type { AddressClaimObject, ObjectStore, VirtualMachineObject } from '../store';
import type { PlacementMetrics } from './metrics';
import { Controller, storeKey, systemClock, type Clock, type Informer, type ReconcileResult } from '../runtime';
import { fromObject, releaseAddressClaim, type AddressClaimView } from './ipam';

/** The AddressClaim informer's index of claims by holding VM ("ns/name"). */
export const CLAIMS_BY_VM = 'vm';

export interface AddressReleaseOptions {
  store: ObjectStore;
  /** addressClaims must carry the CLAIMS_BY_VM index (addClaimIndexes) */
  informers: { vms: Informer<VirtualMachineObject>; addressClaims: Informer<AddressClaimObject> };
  /** lets a release show up at once in this replica's view */
  addresses?: Pick<AddressClaimView, 'forget'>;
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  workers?: number;
  resyncPeriodMs?: number;
}

/** Adds the claim indexes the release controller and the network controller read; call before the informer starts. */
export function addClaimIndexes(claims: Informer<AddressClaimObject>): void {
  claims.addIndex(CLAIMS_BY_VM, (c) => [c.spec.vm]);
}

export class AddressRelease {
  readonly name = 'address-release';
  readonly controller: Controller;

  constructor(private readonly o: AddressReleaseOptions) {
    this.controller = new Controller({
      name: this.name, logger: o.logger, clock: o.clock ?? systemClock, metrics: o.metrics.runtime,
      workers: o.workers ?? 4, resyncPeriodMs: o.resyncPeriodMs, queue: { qps: 200, burst: 1000 },
      reconciler: (k) => this.reconcile(k),
    });
    // every claim's VM (claims come and go with placements; resync checks them all again)
    this.controller.watch(o.informers.addressClaims, (c) => c.spec.vm);
    // VMs: waited for, and deletions
    this.controller.watch(o.informers.vms, () => undefined);
    o.informers.vms.addHandlers({ onDelete: (key) => this.controller.enqueue(key) });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  async reconcile(vmKey: string): Promise<ReconcileResult> {
    const claims = this.o.informers.addressClaims.byIndex(CLAIMS_BY_VM, vmKey);
    if (claims.length === 0) return {};
    const vm = this.o.informers.vms.get(vmKey);
    const suspects = claims.filter((c) => c.spec.uid !== vm?.metadata.uid);
    if (suspects.length === 0) return {};
    const fresh = await this.o.store.get<VirtualMachineObject>(storeKey('VirtualMachine', vmKey), { serial: true });
    for (const c of suspects) {
      if (fresh?.metadata.uid === c.spec.uid) continue;
      if (await releaseAddressClaim(this.o.store, fromObject(c), this.o.addresses)) this.o.metrics.addressReleases.inc({ reason: 'vm-deleted' });
    }
    return {};
  }
}
