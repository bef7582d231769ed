// Resizing bound VMs: when spec.cpu, spec.memory or the size of a disk created for the VM changes
// while it has a host, its claim on the host's allocation record follows, by compare-and-set. A
// resource that grows must fit next to the other claims (one that shrinks always fits), so a resize
// never over-allocates a host. When it does not fit, the claim keeps its previous size and the VM
// says why (Resized=False, reason InsufficientCapacity); it is tried again when capacity is freed
// on its host, and reports Resized=True once its allocation matches its spec. The filters, the
// audit and Host status.allocated all read the claims, so they agree on what a host holds.

import type { VirtualMachineObject } from '../store';
import { formatBytes, formatCpu } from '../schemas/quantity';
import { getCondition, setCondition } from '../kube/conditions';
import { jsonEqual } from '../kube/equal';
import { capacityFreed, claimsOf } from './placement/allocation-record';
import type { PlacementCache } from './placement/cache';
import { resizeClaim } from './placement/claims';
import { RESOURCE_NAMES, vmRequest, type ResourceName, type Resources } from '../kube/resources';
import { sameSize } from './placement/resources';
import { Controller, systemClock, type CachedObject, type Clock, type ReconcileContext, type ReconcileResult } from '../runtime';
import type { PlacementDeps } from './placement-deps';
import { ErrorCode, hasCode } from '../errors';

export const RESIZED = 'Resized';
export const INSUFFICIENT_CAPACITY = 'InsufficientCapacity';

export interface VmResizeOptions extends PlacementDeps {
  cache: PlacementCache;
  workers?: number;
  resyncPeriodMs?: number;
  /** look again at a resize that did not fit even when nothing was freed; default 60 000 ms */
  retryMs?: number;
  /** look again when the VM's claim is not in the cache yet; default 5000 ms */
  claimWaitMs?: number;
}

function boundHost(vm: CachedObject<VirtualMachineObject>): string | undefined {
  return vm.status?.host && !vm.metadata.deletionTimestamp ? vm.status.host : undefined;
}

const show: Record<ResourceName, (n: number) => string> = { cpu: formatCpu, memory: formatBytes, storage: formatBytes };

/** "cpu 2, memory 4Gi" (storage only when the VM has some). */
export function describeSize(r: Resources): string {
  return RESOURCE_NAMES.filter((n) => n !== 'storage' || r.storage > 0).map((n) => `${n} ${show[n](r[n])}`).join(', ');
}

export class VmResize {
  readonly name = 'vm-resize';
  readonly controller: Controller;
  private readonly clock: Clock;
  /** VMs whose new size did not fit, by host: re-queued when capacity is freed there */
  private readonly waiting = new Map<string, Set<string>>();

  constructor(private readonly o: VmResizeOptions) {
    this.clock = o.clock ?? systemClock;
    this.controller = new Controller({
      name: 'vm-resize', logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 2, resyncPeriodMs: o.resyncPeriodMs, reconciler: (k, ctx) => this.reconcile(k, ctx),
    });
    this.controller.watch(o.informers.vms, (vm) => (boundHost(vm) ? `${vm.metadata.namespace}/${vm.metadata.name}` : undefined));
    o.informers.allocations.addHandlers({
      onUpdate: (host, a, b) => {
        if (capacityFreed(a, b)) this.retry(host);
      },
    });
    o.informers.hosts.addHandlers({
      onUpdate: (host, a, b) => {
        if (!jsonEqual(a.status?.capacity, b.status?.capacity) || a.metadata.generation !== b.metadata.generation) this.retry(host);
      },
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    // a VM's claim and its host's capacity must be known before its size is judged
    for (const i of [this.o.informers.allocations, this.o.informers.hosts]) if (!(await i.waitForSync(signal))) return;
    await this.controller.start(signal);
  }

  private retry(host: string): void {
    for (const k of this.waiting.get(host) ?? []) this.controller.enqueue(k);
  }

  private setWaiting(key: string, host: string | undefined): void {
    for (const [h, keys] of this.waiting) {
      if (h === host) continue;
      keys.delete(key);
      if (keys.size === 0) this.waiting.delete(h);
    }
    if (host === undefined) return;
    let keys = this.waiting.get(host);
    if (!keys) this.waiting.set(host, (keys = new Set()));
    keys.add(key);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const vm = this.o.informers.vms.get(key);
    const host = vm ? boundHost(vm) : undefined;
    if (!vm || !host) {
      this.setWaiting(key, undefined);
      return {};
    }
    let request: Resources;
    try {
      request = vmRequest(vm);
    } catch {
      return {}; // a malformed quantity: admission refuses it, nothing to size
    }
    const claim = claimsOf(this.o.cache.record(host))[vm.metadata.uid!];
    if (!claim) return { requeueAfterMs: this.o.claimWaitMs ?? 5000 }; // a bind this cache has not seen yet, or a claim the audit restores
    if (sameSize({ cpu: claim.cpu, memory: claim.memory, storage: claim.storage }, request)) return this.inStep(vm, host, key, request);
    const allocatable = this.o.cache.host(host)?.allocatable;
    if (!allocatable) return { requeueAfterMs: this.o.retryMs ?? 60_000 };
    const out = await resizeClaim(this.o.store, host, vm.metadata.uid!, request, allocatable);
    if (out.ok) {
      this.o.cache.assume(out.record);
      if (sameSize(out.from, request)) return this.inStep(vm, host, key, request); // another replica did it
      this.setWaiting(key, undefined);
      await this.writeResized(vm, host, 'True', `resized on ${host} from ${describeSize(out.from)} to ${describeSize(request)}`);
      ctx.logger.info({ host, from: out.from, to: request }, 'resized a bound VM');
      return {};
    }
    if (out.why === 'missing') return { requeueAfterMs: this.o.claimWaitMs ?? 5000 };
    this.setWaiting(key, host);
    const fmt = show[out.short];
    await this.writeResized(vm, host, 'False',
      `host ${host} has no room for the new size: insufficient ${out.short} (${fmt(request[out.short])} requested, ${fmt(out.free)} available to this VM); `
      + `keeping the previous allocation: ${describeSize(out.from)}`);
    return { requeueAfterMs: this.o.retryMs ?? 60_000 };
  }

  /** The allocation matches the spec (the spec went back, or another replica applied it): a refusal no longer holds. */
  private async inStep(vm: CachedObject<VirtualMachineObject>, host: string, key: string, request: Resources): Promise<ReconcileResult> {
    this.setWaiting(key, undefined);
    if (getCondition(vm.status?.conditions, RESIZED)?.status === 'False') {
      await this.writeResized(vm, host, 'True', `the allocation on ${host} matches the spec: ${describeSize(request)}`);
    }
    return {};
  }

  /** Writes the Resized condition (for the generation it judged) unless it already says the same. */
  private async writeResized(vm: CachedObject<VirtualMachineObject>, host: string, status: 'True' | 'False', message: string): Promise<void> {
    const reason = status === 'True' ? RESIZED : INSUFFICIENT_CAPACITY;
    const gen = vm.metadata.generation;
    const now = this.clock.now();
    await this.o.store.guaranteedUpdate({ kind: 'VirtualMachine', namespace: vm.metadata.namespace ?? '', name: vm.metadata.name }, (cur: VirtualMachineObject) => {
      if (cur.metadata.uid !== vm.metadata.uid || cur.status?.host !== host) return undefined;
      const prev = getCondition(cur.status.conditions, RESIZED);
      if (prev && prev.status === status && prev.reason === reason && prev.message === message && prev.observedGeneration === gen) return undefined;
      cur.status.conditions = setCondition(cur.status.conditions, { type: RESIZED, status, reason, message, observedGeneration: gen }, now);
      return cur;
    }, { status: true }).catch((err: unknown) => {
      if (!hasCode(err, ErrorCode.NotFound)) throw err;
    });
  }
}
