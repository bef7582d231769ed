// Host health: turns the agents' heartbeats (Host status.heartbeatTime) into the Host's Ready
// condition, and reschedules the VMs of a failed host. A lease counts from when THIS process saw
// the heartbeat change (so clock skew between agent and controller does not matter): older than
// leaseDurationMs → Ready=False/LeaseExpired; older than rescheduleMs (T_resched, which must exceed
// the agent's fencing time T_fence plus a margin, so the agent has stopped its VMs) → every VM with
// runStrategy Always bound there is unbound (status.host removed, Scheduled=False/HostLost) and its
// claim released, and the scheduler places it elsewhere. The heartbeat is re-read at SERIAL
// before rescheduling, so a lagging cache never moves VMs off a live host. An agent that fenced
// itself (lost its lease: condition Fenced=True on the Host) still heartbeats but runs nothing:
// the host is NotReady and its VMs are rescheduled once the fence has been seen for
// T_resched - T_fence.

import type { Logger } from 'pino';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../store';
import { getCondition, setCondition } from '../kube/conditions';
import type { PlacementMetrics } from './metrics';
import type { PlacementCache } from './placement/cache';
import { Controller, systemClock, type CachedObject, type Clock, type Informer, type ReconcileContext, type ReconcileResult } from '../runtime';
import { changeBoundVm, finishDeletion } from './unbind';
import type { EventRecorder } from '../runtime/events';

export interface HostHealthOptions {
  store: ObjectStore;
  /** vms must carry a 'host' index (status.host) */
  informers: { hosts: Informer<HostObject>; vms: Informer<VirtualMachineObject> };
  /** optional: lets a release show up at once in this replica's placement cache */
  cache?: PlacementCache;
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  /** heartbeat age after which the host is NotReady; default 25 000 ms (the agent heartbeats every 10 s) */
  leaseDurationMs?: number;
  /** the agent's T_fence: it stops its VMs when it could not renew for this long; default 30 000 ms */
  fenceMs?: number;
  /** T_resched: heartbeat age after which VMs are rescheduled; default 60 000 ms; must exceed fenceMs */
  rescheduleMs?: number;
  workers?: number;
  resyncPeriodMs?: number;
  /** records NotReady/Ready on Hosts and HostLost on the VMs moved off them; default nothing */
  events?: EventRecorder;
}

export const HOST_INDEX = 'host';

/** The agent reports Fenced=True when it lost its lease and stopped its domains. */
function isFenced(h: Readonly<Pick<HostObject, 'status'>>): boolean {
  return getCondition(h.status?.conditions, 'Fenced')?.status === 'True';
}

export class HostHealth {
  readonly name = 'host-health';
  readonly controller: Controller;
  private readonly o: HostHealthOptions;
  private readonly clock: Clock;
  private readonly lease: number;
  private readonly resched: number;
  /** per host: the heartbeat value last seen and when this process first saw it */
  private readonly observed = new Map<string, { hb: string | undefined; at: number }>();
  private readonly notReadyHosts = new Set<string>();
  /** per host: when this process first saw Fenced=True */
  private readonly fencedSince = new Map<string, number>();
  private readonly fencedGrace: number;

  constructor(o: HostHealthOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.lease = o.leaseDurationMs ?? 25_000;
    const fence = o.fenceMs ?? 30_000;
    this.resched = o.rescheduleMs ?? 60_000;
    this.fencedGrace = this.resched - fence;
    if (!(this.resched > fence)) throw new Error(`T_resched (${this.resched} ms) must be longer than the agents' T_fence (${fence} ms)`);
    if (!(this.lease <= this.resched)) throw new Error(`the lease duration (${this.lease} ms) must not exceed T_resched (${this.resched} ms)`);
    this.controller = new Controller({
      name: 'host-health', logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 4, resyncPeriodMs: o.resyncPeriodMs, reconciler: (k, ctx) => this.reconcile(k, ctx),
    });
    this.controller.watch(o.informers.hosts);
    o.informers.hosts.addHandlers({
      onAdd: (k, h) => this.observe(k, h),
      onUpdate: (k, _old, h) => this.observe(k, h),
      onDelete: (k) => {
        this.observed.delete(k);
        this.notReadyHosts.delete(k);
        this.fencedSince.delete(k);
      },
    });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  private observe(name: string, h: CachedObject<HostObject>): void {
    const hb = h.status?.heartbeatTime;
    const cur = this.observed.get(name);
    if (!cur || cur.hb !== hb) this.observed.set(name, { hb, at: this.clock.now() });
    if (isFenced(h)) {
      if (!this.fencedSince.has(name)) this.fencedSince.set(name, this.clock.now());
    } else this.fencedSince.delete(name);
  }

  async reconcile(name: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const host = this.o.informers.hosts.get(name);
    if (!host) return {};
    this.observe(name, host);
    const obs = this.observed.get(name)!;
    const now = this.clock.now();
    const age = now - obs.at;
    const fenced = this.fencedSince.has(name);
    const fresh = obs.hb !== undefined && age < this.lease && !fenced;
    if (fresh) this.notReadyHosts.delete(name);
    else this.notReadyHosts.add(name);
    this.o.metrics.notReady.set(this.notReadyHosts.size);

    const ready = fresh
      ? { status: 'True' as const, reason: 'LeaseRenewed', message: 'the agent renews its lease' }
      : fenced
        ? { status: 'False' as const, reason: 'AgentFenced', message: 'the agent lost its lease and fenced itself: it runs no VMs' }
      : obs.hb === undefined
        ? { status: 'False' as const, reason: 'NoHeartbeat', message: 'the agent has not reported a heartbeat yet' }
        : { status: 'False' as const, reason: 'LeaseExpired', message: `no heartbeat seen for ${Math.round(age / 1000)}s (last ${obs.hb})` };
    const prev = getCondition(host.status?.conditions, 'Ready');
    if (prev?.status !== ready.status || prev?.reason !== ready.reason) {
      let changed = false;
      await this.o.store.guaranteedUpdate<HostObject>({ kind: 'Host', namespace: '', name }, (cur) => {
        changed = false;
        if (cur.status?.heartbeatTime !== obs.hb) return undefined; // changed meanwhile: next reconcile decides
        const st = (cur.status ??= {});
        st.conditions = setCondition(st.conditions, { type: 'Ready', ...ready }, now);
        changed = true;
        return cur;
      }, { status: true });
      ctx.logger.info({ ready: ready.status, reason: ready.reason }, 'host readiness changed');
      // Not for a host's first heartbeat (no condition yet): that one is no news.
      if (changed && (prev || ready.status !== 'True')) {
        if (ready.status === 'True') this.o.events?.event(host, 'Normal', 'Ready', `host ${name} is ready: ${ready.message}`);
        else this.o.events?.event(host, 'Warning', 'NotReady', `host ${name} is not ready (${ready.reason}): ${ready.message}`);
      }
    }
    if (fenced) {
      const wait = this.fencedGrace - (now - this.fencedSince.get(name)!);
      if (wait > 0) return { requeueAfterMs: wait + 50 };
      const cur = await this.o.store.get<HostObject>({ kind: 'Host', namespace: '', name }, { serial: true });
      if (!cur || !isFenced(cur)) return { requeueAfterMs: 50 };
      await this.evacuate(name, ctx);
      return { requeueAfterMs: this.lease };
    }
    if (fresh) return { requeueAfterMs: this.lease - age + 50 };
    if (obs.hb === undefined) return {};
    if (age < this.resched) return { requeueAfterMs: this.resched - age + 50 };

    // T_resched passed. Confirm against the store (a lagging cache must not move VMs off a live host).
    const cur = await this.o.store.get<HostObject>({ kind: 'Host', namespace: '', name }, { serial: true });
    if (!cur) return {};
    if (cur.status?.heartbeatTime !== obs.hb) {
      this.observe(name, cur);
      return { requeueAfterMs: 50 };
    }
    await this.evacuate(name, ctx);
    return { requeueAfterMs: this.lease };
  }

  /** Unbinds the host's runStrategy-Always VMs and releases their claims; marks the others' Ready Unknown. */
  private async evacuate(name: string, ctx: ReconcileContext): Promise<void> {
    const { metrics } = this.o;
    const vms = this.o.informers.vms.byIndex(HOST_INDEX, name);
    const now = this.clock.now();
    for (const vm of vms) {
      const key = `${vm.metadata.namespace}/${vm.metadata.name}`;
      if (vm.metadata.deletionTimestamp) {
        // Deleted while its host is gone: the fenced agent will never release it.
        if (await finishDeletion(this.o, vm, name)) ctx.logger.info({ vm: key }, 'finished deleting a VM of a failed host');
        continue;
      }
      const always = (vm.spec.runStrategy ?? 'Always') === 'Always';
      const r = await changeBoundVm(this.o, vm, name, (st, cur) => {
        if (!always) {
          const ready = getCondition(st.conditions, 'Ready');
          if (ready?.status === 'Unknown' && ready.reason === 'HostNotReady') return undefined;
          st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'Unknown', reason: 'HostNotReady', message: `host ${name} stopped renewing its lease` }, now);
          return 'update';
        }
        st.conditions = setCondition(st.conditions, {
          type: 'Scheduled', status: 'False', reason: 'HostLost', message: `host ${name} stopped renewing its lease; rescheduling`,
          observedGeneration: cur.metadata.generation,
        }, now);
        st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'Unknown', reason: 'HostLost', message: `host ${name} failed` }, now);
        st.phase = 'Pending';
        return 'unbind';
      });
      if (r.outcome === 'updated') this.o.events?.event(vm, 'Warning', 'HostNotReady', `host ${name} stopped renewing its lease: the VM's state is unknown`);
      if (r.outcome !== 'unbound') continue;
      this.o.events?.event(vm, 'Warning', 'HostLost', `host ${name} stopped renewing its lease: rescheduling`);
      metrics.rescheduled.inc();
      if (r.released) metrics.releases.inc({ reason: 'host-lost' });
      ctx.logger.info({ vm: key }, 'unbound a VM from a failed host for rescheduling');
    }
  }
}
