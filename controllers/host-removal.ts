// Host removal: a Host object deleted while VMs are still bound to it. A live agent registers its
// Host again at its next heartbeat, so nothing is done at once: only once the Host has stayed
// absent for T_resched (counted from when this process saw it go, and confirmed by a read at
// SERIAL) — longer than T_fence, so an agent that could not write its heartbeat has fenced itself
// and stopped its VMs, as for a failed host — are its VMs taken off it. VMs with runStrategy
// Always or RerunOnFailure are unbound (Scheduled=False/HostDeleted) and the scheduler places
// them elsewhere; Manual and Halted VMs are unbound and marked Failed with the same condition,
// and are not placed again until their spec changes; VMs being deleted get the agent's finalizer
// released. Then what is left of the host's allocation record (claims in flight or leaked, and the
// topology claims they list) is deleted, and its Volumes are finished (being deleted) or marked
// Failed (their storage went with the host).

import { setCondition } from '../kube/conditions';
import type { HostAllocationObject, VirtualMachineObject, VolumeObject } from '../store';
import { HOST_INDEX } from './host-health';
import { ALLOCATION_KIND, claimsOf } from './placement/allocation-record';
import { releaseTopologyClaims } from './placement/topology-claims';
import { Controller, splitKey, systemClock, type CachedObject, type Clock, type ReconcileContext, type ReconcileResult } from '../runtime';
import { changeBoundVm, finishDeletion } from './unbind';
import { VOLUME_FINALIZER } from '../kube/names';
import { HOST_DELETED, restartsElsewhere } from './vm-status';
import type { PlacementDeps } from './placement-deps';
import { ErrorCode, hasCode } from '../errors';
import { FAILOVER_DEFAULTS } from '../config/failover';

export interface HostRemovalOptions extends PlacementDeps {
  /** T_resched, as host health's (it must exceed the agents' T_fence); default 60 000 ms */
  rescheduleMs?: number;
  /** look again this soon while VMs or claims are still being bound to the removed host; default 1000 ms */
  pollMs?: number;
  workers?: number;
  resyncPeriodMs?: number;
}

export class HostRemoval {
  readonly name = 'host-removal';
  readonly controller: Controller;
  private readonly clock: Clock;
  /** per absent host: when this process first saw it absent */
  private readonly goneSince = new Map<string, number>();

  constructor(private readonly o: HostRemovalOptions) {
    this.clock = o.clock ?? systemClock;
    this.controller = new Controller({
      name: 'host-removal', logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 2, resyncPeriodMs: o.resyncPeriodMs, reconciler: (k, ctx) => this.reconcile(k, ctx),
    });
    const { hosts, allocations, vms } = o.informers;
    const absent = (name: string | undefined) => (name !== undefined && !hosts.get(name) ? name : undefined);
    // VMs and allocation records that name a host nobody knows (also after a restart, or a bind
    // that raced the deletion).
    this.controller.watch(vms, (vm) => absent(vm.status?.host));
    this.controller.watch(allocations, (rec) => absent(rec.metadata.name));
    hosts.addHandlers({
      onAdd: (name) => this.goneSince.delete(name),
      onDelete: (name) => {
        this.goneSince.set(name, this.clock.now());
        this.controller.enqueue(name);
      },
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    // "absent" means something only once the hosts are listed
    if (!(await this.o.informers.hosts.waitForSync(signal))) return;
    await this.controller.start(signal);
  }

  async reconcile(name: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (this.o.informers.hosts.get(name)) {
      this.goneSince.delete(name);
      return {};
    }
    const now = this.clock.now();
    let since = this.goneSince.get(name);
    if (since === undefined) this.goneSince.set(name, (since = now));
    const wait = since + (this.o.rescheduleMs ?? FAILOVER_DEFAULTS.rescheduleMs) - now;
    if (wait > 0) return { requeueAfterMs: wait + 50 };
    // Confirm against the store: a lagging cache must not take VMs off a host that is back.
    if (await this.o.store.get({ kind: 'Host', namespace: '', name }, { serial: true })) return {};

    for (const vm of this.o.informers.vms.byIndex(HOST_INDEX, name)) await this.takeOff(vm, name, now, ctx);
    await this.releaseVolumes(name, now, ctx);
    const clean = await this.deleteRecord(name);
    if (!clean || this.o.informers.vms.byIndex(HOST_INDEX, name).length > 0) return { requeueAfterMs: this.o.pollMs ?? 1000 };
    this.goneSince.delete(name);
    ctx.logger.info('removed what was left of a deleted host');
    return {};
  }

  private async takeOff(vm: CachedObject<VirtualMachineObject>, host: string, now: number, ctx: ReconcileContext): Promise<void> {
    const key = `${vm.metadata.namespace}/${vm.metadata.name}`;
    if (vm.metadata.deletionTimestamp) {
      if (await finishDeletion(this.o, vm, host)) ctx.logger.info({ vm: key }, 'finished deleting a VM of a deleted host');
      return;
    }
    const elsewhere = restartsElsewhere(vm);
    const r = await changeBoundVm(this.o, vm, host, (st, cur) => {
      const runStrategy = cur.spec.runStrategy ?? 'Always';
      st.conditions = setCondition(st.conditions, {
        type: 'Scheduled', status: 'False', reason: HOST_DELETED, observedGeneration: cur.metadata.generation,
        message: elsewhere
          ? `host ${host} was deleted; rescheduling`
          : `host ${host} was deleted; a VM with runStrategy ${runStrategy} is not restarted elsewhere by itself: change its spec (e.g. runStrategy: Always) to place it again`,
      }, now);
      st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'False', reason: HOST_DELETED, message: `host ${host} was deleted` }, now);
      st.phase = elsewhere ? 'Pending' : 'Failed';
      st.observedGeneration = cur.metadata.generation;
      return 'unbind';
    });
    if (r.outcome !== 'unbound') return;
    this.o.events?.event(vm, 'Warning', HOST_DELETED, `host ${host} was deleted: ${elsewhere ? 'rescheduling' : 'the VM is not placed again until its spec changes'}`);
    if (elsewhere) this.o.metrics.rescheduled.inc();
    if (r.released) this.o.metrics.releases.inc({ reason: 'host-deleted' });
    ctx.logger.info({ vm: key, rescheduled: elsewhere }, 'took a VM off a deleted host');
  }

  /**
   * The Volumes whose storage was on the deleted host: one being deleted is finished (its agent's
   * finalizer released: the storage went with the host); the others say so (Failed, Ready=False,
   * HostDeleted) so their users can restore them from elsewhere. Volumes are few and hosts are
   * rarely deleted: a paged list of all of them, not an index.
   */
  private async releaseVolumes(host: string, now: number, ctx: ReconcileContext): Promise<void> {
    const { store } = this.o;
    let cont: string | undefined;
    do {
      const page = await store.list<VolumeObject>('Volume', undefined, { limit: 500, continue: cont });
      cont = page.continue;
      for (const v of page.items) {
        if (v.status?.host !== host) continue;
        const key = { kind: 'Volume', namespace: v.metadata.namespace ?? '', name: v.metadata.name };
        const uid = v.metadata.uid;
        try {
          if (v.metadata.deletionTimestamp) {
            await store.guaranteedUpdate(key, (cur) => {
              if (cur.metadata.uid !== uid || !(cur.metadata.finalizers ?? []).includes(VOLUME_FINALIZER)) return undefined;
              cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== VOLUME_FINALIZER);
              return cur;
            });
            ctx.logger.info({ volume: `${key.namespace}/${key.name}` }, 'finished deleting a Volume of a deleted host');
          } else {
            await store.guaranteedUpdate<VolumeObject>(key, (cur) => {
              const st = cur.status ?? {};
              if (cur.metadata.uid !== uid || st.host !== host || st.phase === 'Failed') return undefined;
              st.phase = 'Failed';
              st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'False', reason: HOST_DELETED, message: `host ${host} was deleted with this volume's storage` }, now);
              cur.status = st;
              return cur;
            }, { status: true });
          }
        } catch (err) {
          if (!hasCode(err, ErrorCode.NotFound)) throw err;
        }
      }
    } while (cont);
  }

  /**
   * Deletes the host's allocation record with the topology claims its remaining claims list (their
   * VMs are not bound there: unbound above, or in flight towards a host that is gone). False when
   * it must be tried again (a claim landed meanwhile).
   */
  private async deleteRecord(host: string): Promise<boolean> {
    const key = { kind: ALLOCATION_KIND, namespace: '', name: host };
    const rec = await this.o.store.get<HostAllocationObject>(key, { serial: true });
    if (!rec) return true;
    for (const [uid, c] of Object.entries(claimsOf(rec))) {
      if (c.topologyClaims?.length) await releaseTopologyClaims(this.o.store, splitKey(c.vm).namespace, c.topologyClaims, uid, c.by);
    }
    try {
      await this.o.store.delete(key, { preconditions: { uid: rec.metadata.uid, resourceVersion: rec.metadata.resourceVersion } });
      return true;
    } catch (err) {
      if (hasCode(err, ErrorCode.NotFound)) return true;
      if (hasCode(err, ErrorCode.Conflict)) return false;
      throw err;
    }
  }
}
