// Host health: turns the agents' heartbeats (Host status.heartbeatTime) into the Host's Ready
// condition, and reschedules the VMs of a failed host. A heartbeat's age counts from when THIS
// process saw it change, on this process's monotonic clock (so clock OFFSET between agent and
// controller does not matter, only clock RATE): older than leaseDurationMs → Ready=False/
// LeaseExpired; older than T_resched → every VM with runStrategy Always bound there is unbound
// (status.host removed, Scheduled=False/HostLost) and its claim released, and the scheduler places
// it elsewhere. The heartbeat is re-read at SERIAL before rescheduling, so a lagging cache never
// moves VMs off a live host. An agent that fenced itself (lost its lease: condition Fenced=True on
// the Host) still heartbeats but runs nothing: the host is NotReady and its VMs are rescheduled
// once the fence has been seen for T_resched - T_fence.
//
// Why a VM never runs on two hosts (agents/host/lease.ts states the agent's half):
// - the agent fences at (send time of its last counted renewal/heartbeat) + T_fence, by its own
//   monotonic clock, and counts a heartbeat only if it was acknowledged within its ack bound;
// - this controller reschedules at (when it SAW that heartbeat, necessarily after it was sent) +
//   T_resched, by its own monotonic clock, after a SERIAL read showing no newer heartbeat;
// - so T_resched − T_fence must cover the rate skew of the two clocks (≤ 1 % assumed:
//   STRATUS_CLOCK_SKEW_PERCENT), the time to stop the domains plus the lateness of the agent's
//   fence (STRATUS_FENCE_STOP_ALLOWANCE_MS), and the heartbeat ack bound; config/controllers.ts
//   refuses T_resched < T_fence·(1 + skew) + max(allowance, ack bound).
// - The agent publishes its T_fence in status.fenceAfterMs: a host with a longer T_fence than the
//   configured one has its rescheduling delayed by the difference (scaled by the skew), so an
//   agent configured differently is never rescheduled early.
// Defaults (config/failover.ts): T_fence 10 s, T_resched 16 s, NotReady after 8 s: VMs of a dead
// agent run elsewhere some 17–25 s after it died (placement and start of many VMs add to it).

import type { Logger } from 'pino';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../store';
import { getCondition, setCondition } from '../kube/conditions';
import type { PlacementMetrics } from './metrics';
import type { PlacementCache } from './placement/cache';
import { Controller, systemClock, type CachedObject, type Clock, type Informer, type ReconcileContext, type ReconcileResult } from '../runtime';
import { changeBoundVm, finishDeletion } from './unbind';
import { pinnedDisks } from '../kube/disks';
import { FAILOVER_DEFAULTS } from '../config/failover';

/** Ready=False reason of a VM whose host failed while its data lived on that host's local storage. */
export const HOST_LOST_LOCAL_DISKS = 'HostLostLocalDisks';
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
  /** monotonic time for heartbeat ages; default performance.now() without a `clock`, else `clock.now` (tests) */
  monotonic?: () => number;
  /** heartbeat age after which the host is NotReady; default 8000 ms (the agent heartbeats every 3 s) */
  leaseDurationMs?: number;
  /** the agents' T_fence: they stop their VMs when they could not renew for this long; default 10 000 ms (a host publishing a longer status.fenceAfterMs gets that) */
  fenceMs?: number;
  /** T_resched: heartbeat age after which VMs are rescheduled; default 20 000 ms; must exceed fenceMs (config/controllers.ts checks the margins) */
  rescheduleMs?: number;
  /** assumed clock rate skew in percent, applied to a host's extra T_fence; default 1 */
  clockSkewPercent?: number;
  workers?: number;
  resyncPeriodMs?: number;
  /** records NotReady/Ready on Hosts and HostLost on the VMs moved off them; default nothing */
  events?: EventRecorder;
}

export const HOST_INDEX = 'host';

/** Whether heartbeat `a` is later than `b` (RFC 3339 times; an unparsable one counts as newer, as any change did before). */
export function newerHeartbeat(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined) return false;
  if (b === undefined) return true;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) || ta > tb;
}

/** VMs of a failed host unbound at once (each is one compare-and-set on its own partition). */
const EVACUATE_CONCURRENCY = 16;

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
  private readonly fence: number;
  private readonly skewPercent: number;
  private readonly mono: () => number;
  /** per host: the heartbeat value last seen and when this process first saw it */
  private readonly observed = new Map<string, { hb: string | undefined; at: number }>();
  private readonly notReadyHosts = new Set<string>();
  /** per host: when this process first saw Fenced=True */
  private readonly fencedSince = new Map<string, number>();

  constructor(o: HostHealthOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.mono = o.monotonic ?? (o.clock ? () => this.clock.now() : () => performance.now());
    this.lease = o.leaseDurationMs ?? FAILOVER_DEFAULTS.leaseDurationMs;
    const fence = (this.fence = o.fenceMs ?? FAILOVER_DEFAULTS.fenceMs);
    this.resched = o.rescheduleMs ?? FAILOVER_DEFAULTS.rescheduleMs;
    this.skewPercent = o.clockSkewPercent ?? FAILOVER_DEFAULTS.clockSkewPercent;
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

  /**
   * Notes the heartbeat of `h` and when this process first saw it. From the cache (`fromStore`
   * false) only a newer heartbeat counts: a cached copy that missed the latest one (a feed entry
   * that landed late) must not undo what a store read showed, or the two would take turns
   * restarting the heartbeat's age and the host would never be declared NotReady. A store read is
   * the truth, even a heartbeat earlier than the one noted (an agent whose clock stepped back).
   */
  private observe(name: string, h: Readonly<Pick<HostObject, 'status'>>, fromStore = false): void {
    const hb = h.status?.heartbeatTime;
    const cur = this.observed.get(name);
    if (!cur || (cur.hb !== hb && (fromStore || newerHeartbeat(hb, cur.hb)))) this.observed.set(name, { hb, at: this.mono() });
    if (isFenced(h)) {
      if (!this.fencedSince.has(name)) this.fencedSince.set(name, this.mono());
    } else this.fencedSince.delete(name);
  }

  /**
   * T_resched and T_fence for host `h`: the host's agent may fence later than the configured
   * T_fence (status.fenceAfterMs), then T_resched grows by the difference, scaled by the skew.
   */
  timingsOf(h: Readonly<Pick<HostObject, 'status'>> | undefined): { fenceMs: number; rescheduleMs: number } {
    const published = h?.status?.fenceAfterMs;
    const fenceMs = Math.max(this.fence, typeof published === 'number' && Number.isFinite(published) ? published : 0);
    const extra = fenceMs - this.fence;
    return { fenceMs, rescheduleMs: this.resched + Math.ceil((extra * (100 + this.skewPercent)) / 100) };
  }

  async reconcile(name: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const host = this.o.informers.hosts.get(name);
    if (!host) return {};
    this.observe(name, host);
    const obs = this.observed.get(name)!;
    const now = this.clock.now();
    const at = this.mono();
    const age = at - obs.at;
    const { fenceMs, rescheduleMs: resched } = this.timingsOf(host);
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
      let stored: HostObject | undefined;
      await this.o.store.guaranteedUpdate<HostObject>({ kind: 'Host', namespace: '', name }, (cur) => {
        changed = false;
        stored = cur;
        if (cur.status?.heartbeatTime !== obs.hb) return undefined; // changed meanwhile: next reconcile decides
        const st = (cur.status ??= {});
        st.conditions = setCondition(st.conditions, { type: 'Ready', ...ready }, now);
        changed = true;
        return cur;
      }, { status: true });
      if (!changed) {
        // The store holds another heartbeat than this process's cache: count the newer one and decide again.
        if (stored) this.observe(name, stored, true);
        return { requeueAfterMs: 50 };
      }
      ctx.logger.info({ ready: ready.status, reason: ready.reason }, 'host readiness changed');
      // Not for a host's first heartbeat (no condition yet): that one is no news.
      if (prev || ready.status !== 'True') {
        if (ready.status === 'True') this.o.events?.event(host, 'Normal', 'Ready', `host ${name} is ready: ${ready.message}`);
        else this.o.events?.event(host, 'Warning', 'NotReady', `host ${name} is not ready (${ready.reason}): ${ready.message}`);
      }
    }
    if (fenced) {
      const wait = resched - fenceMs - (at - this.fencedSince.get(name)!);
      if (wait > 0) return { requeueAfterMs: wait + 50 };
      const cur = await this.o.store.get<HostObject>({ kind: 'Host', namespace: '', name }, { serial: true });
      if (!cur || !isFenced(cur)) return { requeueAfterMs: 50 };
      await this.evacuate(name, ctx);
      return { requeueAfterMs: this.lease };
    }
    if (fresh) return { requeueAfterMs: this.lease - age + 50 };
    if (obs.hb === undefined) return {};
    if (age < resched) return { requeueAfterMs: resched - age + 50 };

    // T_resched passed. Confirm against the store (a lagging cache must not move VMs off a live host).
    const cur = await this.o.store.get<HostObject>({ kind: 'Host', namespace: '', name }, { serial: true });
    if (!cur) return {};
    if (cur.status?.heartbeatTime !== obs.hb) {
      this.observe(name, cur, true);
      return { requeueAfterMs: 50 };
    }
    // The agent published a longer T_fence than the cached Host showed: wait for that one.
    const longer = this.timingsOf(cur).rescheduleMs;
    if (age < longer) return { requeueAfterMs: longer - age + 50 };
    await this.evacuate(name, ctx);
    return { requeueAfterMs: this.lease };
  }

  /**
   * Unbinds the host's runStrategy-Always VMs and releases their claims, except those whose disks
   * cannot move (local, not ephemeral: phase Failed, Ready=False/HostLostLocalDisks, still bound);
   * marks the others' Ready Unknown.
   */
  private async evacuate(name: string, ctx: ReconcileContext): Promise<void> {
    const vms = this.o.informers.vms.byIndex(HOST_INDEX, name);
    const now = this.clock.now();
    // Many VMs per host: one compare-and-set each, EVACUATE_CONCURRENCY at a time, so failover
    // time does not grow with the number of VMs the host ran.
    let next = 0;
    const worker = async () => {
      while (next < vms.length) await this.evacuateOne(name, vms[next++]!, now, ctx);
    };
    await Promise.all(Array.from({ length: Math.min(EVACUATE_CONCURRENCY, vms.length) }, worker));
  }

  private async evacuateOne(name: string, vm: CachedObject<VirtualMachineObject>, now: number, ctx: ReconcileContext): Promise<void> {
    const { metrics } = this.o;
    {
      const key = `${vm.metadata.namespace}/${vm.metadata.name}`;
      if (vm.metadata.deletionTimestamp) {
        // Deleted while its host is gone: the fenced agent will never release it.
        if (await finishDeletion(this.o, vm, name)) ctx.logger.info({ vm: key }, 'finished deleting a VM of a failed host');
        return;
      }
      const always = (vm.spec.runStrategy ?? 'Always') === 'Always';
      let lostDisks: string | undefined;
      const r = await changeBoundVm(this.o, vm, name, (st, cur) => {
        // Disks that cannot follow the VM: rescheduling would reset them, so it fails here instead.
        const pinned = always ? pinnedDisks(cur, name) : [];
        if (pinned.length > 0) {
          lostDisks = `host ${name} failed and the VM's data cannot move: ${pinned.map((p) => p.why).join('; ')}; delete the VM, or declare the disk ephemeral to have it recreated elsewhere`;
          const ready = getCondition(st.conditions, 'Ready');
          if (st.phase === 'Failed' && ready?.reason === HOST_LOST_LOCAL_DISKS && ready.message === lostDisks) return undefined;
          st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'False', reason: HOST_LOST_LOCAL_DISKS, message: lostDisks }, now);
          st.phase = 'Failed';
          return 'update';
        }
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
      if (r.outcome === 'updated' && lostDisks) this.o.events?.event(vm, 'Warning', HOST_LOST_LOCAL_DISKS, lostDisks);
      else if (r.outcome === 'updated') this.o.events?.event(vm, 'Warning', 'HostNotReady', `host ${name} stopped renewing its lease: the VM's state is unknown`);
      if (r.outcome !== 'unbound') return;
      this.o.events?.event(vm, 'Warning', 'HostLost', `host ${name} stopped renewing its lease: rescheduling`);
      metrics.rescheduled.inc();
      if (r.released) metrics.releases.inc({ reason: 'host-lost' });
      ctx.logger.info({ vm: key }, 'unbound a VM from a failed host for rescheduling');
    }
  }
}
