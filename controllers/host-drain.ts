// Draining a host (`stratus host drain`: spec.unschedulable=true plus the annotation
// stratuslab.eu/drain="true"): every VM bound there is moved off without ever running twice.
// The controller asks (VM condition Evicting=True); the host's agent stops the domain and answers
// Ready=False/Evicted; only then is the VM unbound and its claim released, and the scheduler
// places it elsewhere. A VM that never started on the host (no domainUUID, Ready absent) is
// unbound as soon as the agent has acknowledged too — the agent is the only one who knows.

import type { Logger } from 'pino';
import type { HostObject, ObjectStore, VirtualMachineObject } from '../store';
import { getCondition, removeCondition, setCondition } from '../kube/conditions';
import { EVICTED_REASON } from '../kube/names';
import { HOST_INDEX } from './host-health';
import type { PlacementMetrics } from './metrics';
import type { PlacementCache } from './placement/cache';
import { Controller, systemClock, type Clock, type Informer, type ReconcileContext, type ReconcileResult } from '../runtime';
import { changeBoundVm } from './unbind';
import type { EventRecorder } from '../runtime/events';

export const DRAIN_ANNOTATION = 'stratuslab.eu/drain';
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
    if (vms.length === 0) return {};
    const now = this.clock.now();
    for (const vm of vms) {
      const r = await changeBoundVm(this.o, vm, name, (st, cur) => {
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
    return { requeueAfterMs: this.o.pollMs ?? 1000 };
  }
}
