// Draining a host (`stratus host drain`: spec.unschedulable=true plus the annotation
// stratuslab.eu/drain="true"): every VM bound there is moved off without ever running twice.
// The controller asks (VM condition Evicting=True); the host's agent stops the domain and answers
// Ready=False/Evicted; only then is the VM unbound and its claim released, and the scheduler
// places it elsewhere. A VM that never started on the host (no domainUUID, Ready absent) is
// unbound as soon as the agent has acknowledged too — the agent is the only one who knows.
// A VM whose disks cannot follow it (local, not ephemeral: kube/disks.ts) is left where it runs:
// the Host says so (Drained=False/DisksNotMovable naming the VMs) and the VM gets a Warning Event.
// Declaring those disks ephemeral (or deleting the VM) lets the next pass move it.

import type { Logger } from 'pino';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../store';
import { getCondition, removeCondition, setCondition } from '../kube/conditions';
import { pinnedDisks } from '../kube/disks';
import { EVICTED_REASON } from '../kube/names';
import { HOST_INDEX } from './host-health';
import type { PlacementMetrics } from './metrics';
import type { PlacementCache } from './placement/cache';
import { Controller, systemClock, type CachedObject, type Clock, type Informer, type ReconcileContext, type ReconcileResult } from '../runtime';
import { changeBoundVm } from './unbind';
import type { EventRecorder } from '../runtime/events';

export const DRAIN_ANNOTATION = 'stratuslab.eu/drain';
/** The Host condition saying how the drain goes: True once no VM is left, else why not. */
export const DRAINED_CONDITION = 'Drained';
export const DISKS_NOT_MOVABLE = 'DisksNotMovable';
export { EVICTED_REASON };

export interface HostDrainOptions {
  store: ObjectStore;
  informers: { hosts: Informer<HostObject>; vms: Informer<VirtualMachineObject> };
  cache?: PlacementCache;
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  workers?: number;
  resyncPeriodMs?: number;
  /** how often to look again while VMs are still being stopped; default 1000 ms */
  pollMs?: number;
  /** records Evicting and Evicted on the VMs; default nothing */
  events?: EventRecorder;
}

export class HostDrain {
  readonly name = 'host-drain';
  readonly controller: Controller;
  private readonly clock: Clock;
  /** VMs (uid@host) already warned that their disks keep them on a drained host */
  private readonly warned = new Set<string>();

  constructor(private readonly o: HostDrainOptions) {
    this.clock = o.clock ?? systemClock;
    this.controller = new Controller({
      name: 'host-drain', logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 2, resyncPeriodMs: o.resyncPeriodMs, reconciler: (k, ctx) => this.reconcile(k, ctx),
    });
    this.controller.watch(o.informers.hosts, (h) => (h.metadata.annotations?.[DRAIN_ANNOTATION] === 'true' ? h.metadata.name : undefined));
    // a VM's answer (Ready=False/Evicted) wakes its host up
    this.controller.watch(o.informers.vms, (vm) => (vm.status?.host && getCondition(vm.status.conditions, 'Evicting') ? vm.status.host : undefined));
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  async reconcile(name: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const host = this.o.informers.hosts.get(name);
    if (host?.metadata.annotations?.[DRAIN_ANNOTATION] !== 'true') return {};
    const vms = this.o.informers.vms.byIndex(HOST_INDEX, name);
    const now = this.clock.now();
    const blocked: string[] = [];
    for (const vm of vms) {
      const pinned = pinnedDisks(vm, name);
      if (pinned.length > 0) {
        blocked.push(`${vm.metadata.namespace}/${vm.metadata.name} (${pinned.map((p) => p.why).join('; ')})`);
        await this.keepInPlace(vm, name, pinned.map((p) => p.why).join('; '));
        continue;
      }
      const r = await changeBoundVm(this.o, vm, name, (st, cur) => {
        if (pinnedDisks(cur, name).length > 0) return undefined; // its disks changed meanwhile: the next pass keeps it
        const evicting = getCondition(st.conditions, 'Evicting');
        const ready = getCondition(st.conditions, 'Ready');
        if (!evicting) {
          st.conditions = setCondition(st.conditions, { type: 'Evicting', status: 'True', reason: 'HostDrained', message: `host ${name} is being drained` }, now);
          return 'update';
        }
        if (ready?.status !== 'False' || ready.reason !== EVICTED_REASON) return undefined; // the agent has not stopped it yet
        st.conditions = removeCondition(st.conditions, 'Evicting');
        st.conditions = removeCondition(st.conditions, 'Ready');
        st.conditions = setCondition(st.conditions, {
          type: 'Scheduled', status: 'False', reason: 'Evicted', message: `moved off drained host ${name}`, observedGeneration: cur.metadata.generation,
        }, now);
        st.phase = 'Pending';
        return 'unbind';
      });
      if (r.outcome === 'updated') this.o.events?.event(vm, 'Normal', 'Evicting', `host ${name} is being drained: stopping the VM so it can move`);
      if (r.outcome !== 'unbound') continue;
      this.o.events?.event(vm, 'Normal', 'Evicted', `moved off drained host ${name}: rescheduling`);
      if (r.released) this.o.metrics.releases.inc({ reason: 'drained' });
      ctx.logger.info({ vm: `${vm.metadata.namespace}/${vm.metadata.name}` }, 'evicted a VM from a drained host');
    }
    await this.report(host, vms.length, blocked, now);
    // Nothing left: done. Only blocked VMs left: they wait for a change (their spec or status wakes the host's reconcile through the resync).
    if (vms.length === 0) return {};
    return { requeueAfterMs: blocked.length === vms.length ? Math.max(this.o.pollMs ?? 1000, 10_000) : this.o.pollMs ?? 1000 };
  }

  /**
   * A VM whose disks cannot move stays and runs where it is: an Evicting request made before its
   * disks were known is withdrawn (the agent starts it again), and it is warned once.
   */
  private async keepInPlace(vm: CachedObject<VirtualMachineObject>, host: string, why: string): Promise<void> {
    if (getCondition(vm.status?.conditions, 'Evicting')) {
      await changeBoundVm(this.o, vm, host, (st) => {
        if (!getCondition(st.conditions, 'Evicting')) return undefined;
        st.conditions = removeCondition(st.conditions, 'Evicting');
        return 'update';
      });
    }
    const once = `${vm.metadata.uid}@${host}`;
    if (this.warned.has(once)) return;
    this.warned.add(once);
    if (this.warned.size > 10_000) this.warned.clear();
    this.o.events?.event(vm, 'Warning', DISKS_NOT_MOVABLE, `host ${host} is being drained but the VM stays: ${why}; declare the disk ephemeral (spec.disks[].ephemeral) or delete the VM`);
  }

  /** Host condition Drained: True once no VM is left, False with the VMs that block it or the count still moving. */
  private async report(host: CachedObject<HostObject>, left: number, blocked: string[], now: number): Promise<void> {
    const name = host.metadata.name;
    const want = left === 0
      ? { status: 'True' as const, reason: 'Drained', message: `no VM is left on host ${name}` }
      : blocked.length > 0
        ? { status: 'False' as const, reason: DISKS_NOT_MOVABLE, message: `${blocked.length} VM(s) cannot move, their disks would be lost: ${blocked.join(', ')}` }
        : { status: 'False' as const, reason: 'Draining', message: `${left} VM(s) being moved off host ${name}` };
    const have = getCondition(host.status?.conditions, DRAINED_CONDITION);
    if (have?.status === want.status && have.reason === want.reason && have.message === want.message) return;
    await this.o.store.guaranteedUpdate<HostObject>({ kind: 'Host', namespace: '', name }, (cur) => {
      if (cur.metadata.annotations?.[DRAIN_ANNOTATION] !== 'true') return undefined;
      const st = (cur.status ??= {});
      const c = getCondition(st.conditions, DRAINED_CONDITION);
      if (c?.status === want.status && c.reason === want.reason && c.message === want.message) return undefined;
      st.conditions = setCondition(st.conditions, { type: DRAINED_CONDITION, ...want }, now);
      return cur;
    }, { status: true });
  }
}
