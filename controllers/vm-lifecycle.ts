// The VM lifecycle controller: keeps status.phase and status.observedGeneration of a VM in line
// with its binding and its agent's Ready condition (derivePhase in vm-status.ts). Unbound VMs
// waiting for placement are left to the scheduler, which writes the same fields with its own
// writes, so the two never race on a VM being placed.

import type { Logger } from 'pino';
import type { ObjectStore, VirtualMachineObject } from '../store';
import type { PlacementMetrics } from './metrics';
import { Controller, systemClock, type Clock, type Informer, type ReconcileResult } from '../runtime';
import { derivePhase } from './vm-status';

export interface VmLifecycleOptions {
  store: ObjectStore;
  informers: { vms: Informer<VirtualMachineObject> };
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  workers?: number;
  resyncPeriodMs?: number;
}

export class VmLifecycle {
  readonly name = 'vm-lifecycle';
  readonly controller: Controller;

  constructor(private readonly o: VmLifecycleOptions) {
    this.controller = new Controller({
      name: 'vm-lifecycle', logger: o.logger, clock: o.clock ?? systemClock, metrics: o.metrics.runtime,
      workers: o.workers ?? 4, resyncPeriodMs: o.resyncPeriodMs, queue: { qps: 200, burst: 1000 },
      reconciler: (k) => this.reconcile(k),
    });
    this.controller.watch(o.informers.vms);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const vm = this.o.informers.vms.get(key);
    if (!vm) return {};
    const runStrategy = vm.spec.runStrategy ?? 'Always';
    if (!vm.status?.host && !vm.metadata.deletionTimestamp && runStrategy !== 'Halted') return {};
    const d = derivePhase(vm);
    const st = vm.status ?? {};
    const genOk = d.observedGeneration === undefined || d.observedGeneration === st.observedGeneration;
    if (d.phase === st.phase && genOk) return {};
    const next: VirtualMachineObject = structuredClone(vm);
    next.status = { ...(next.status ?? {}), phase: d.phase };
    if (d.observedGeneration !== undefined) next.status.observedGeneration = d.observedGeneration;
    await this.o.store.updateStatus(next);
    return {};
  }
}
