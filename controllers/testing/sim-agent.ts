// A simulated hypervisor agent for tests (the real one is agents/, issue 3): renews its Host's
// lease by writing status.heartbeatTime, "runs" the VMs bound to its host (recording start and
// stop times in a shared ledger) and reports Ready on them, and fences — stops every VM — when
// it could not renew its lease for T_fence. kill() simulates a partition: renewals stop reaching
// the store, the fence then stops its VMs.

import type { ObjectStore, StoredObject } from '../../store';
import { setCondition } from '../../kube/conditions';
import type { Informer } from '../../runtime';

export interface RunInterval {
  vm: string;
  uid: string;
  host: string;
  start: number;
  stop?: number;
}

/** Every start and stop of every simulated VM, to check that no VM ever ran twice at once. */
export class Ledger {
  readonly intervals: RunInterval[] = [];

  running(vm: string): RunInterval[] {
    return this.intervals.filter((i) => i.vm === vm && i.stop === undefined);
  }

  /** Pairs of intervals of one VM that overlap in time. */
  overlaps(): [RunInterval, RunInterval][] {
    const byVm = new Map<string, RunInterval[]>();
    for (const i of this.intervals) {
      let l = byVm.get(i.vm);
      if (!l) byVm.set(i.vm, (l = []));
      l.push(i);
    }
    const out: [RunInterval, RunInterval][] = [];
    for (const l of byVm.values()) {
      for (let a = 0; a < l.length; a++) {
        for (let b = a + 1; b < l.length; b++) {
          const x = l[a];
          const y = l[b];
          if (x.start < (y.stop ?? Infinity) && y.start < (x.stop ?? Infinity)) out.push([x, y]);
        }
      }
    }
    return out;
  }
}

export interface SimAgentOptions {
  store: ObjectStore;
  host: string;
  /** a VM informer with a 'host' index (shared by the simulated agents of one test) */
  vms: Informer;
  ledger: Ledger;
  heartbeatMs: number;
  fenceMs: number;
}

export class SimAgent {
  private readonly running = new Map<string, RunInterval>();
  private killed = false;
  private lastRenewal = Date.now();
  private fenced = false;
  private leaseLost = false;

  constructor(private readonly o: SimAgentOptions) {}

  kill(): void {
    this.killed = true;
  }

  /** Loses the lease but keeps heartbeating: stops every VM, then reports Fenced=True on the Host. */
  loseLease(): void {
    this.leaseLost = true;
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, this.o.heartbeatMs));
    }
    for (const r of this.running.values()) r.stop ??= Date.now();
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    if (this.leaseLost && !this.fenced) {
      this.fenced = true;
      for (const r of this.running.values()) r.stop = now;
      this.running.clear();
    }
    if (!this.killed) {
      const attemptAt = Date.now();
      await this.o.store.guaranteedUpdate({ kind: 'Host', namespace: '', name: this.o.host }, (cur) => {
        const st = (cur.status ??= {});
        st.heartbeatTime = new Date().toISOString();
        if (this.leaseLost) st.conditions = setCondition(st.conditions as never, { type: 'Fenced', status: 'True', reason: 'LeaseLost', message: 'stopped every domain' }, Date.now());
        return cur;
      }, { status: true });
      if (!this.leaseLost) this.lastRenewal = attemptAt;
    }
    if (now - this.lastRenewal >= this.o.fenceMs) {
      // Fencing: could not renew for T_fence; stop everything and stay down.
      if (!this.fenced) {
        this.fenced = true;
        for (const r of this.running.values()) r.stop = now;
        this.running.clear();
      }
      return;
    }
    if (this.fenced) return;
    const mine = this.o.vms.byIndex('host', this.o.host);
    const want = new Set(mine.map((v) => v.metadata.uid!));
    for (const [uid, r] of this.running) {
      if (!want.has(uid)) {
        r.stop = now;
        this.running.delete(uid);
      }
    }
    for (const vm of mine) {
      const uid = vm.metadata.uid!;
      const conds = (vm.status?.conditions ?? []) as { type: string; status: string; reason?: string }[];
      if (conds.some((c) => c.type === 'Evicting' && c.status === 'True')) {
        // Drain: stop the domain, then acknowledge with Ready=False/Evicted.
        const r = this.running.get(uid);
        if (r) {
          r.stop = now;
          this.running.delete(uid);
        }
        if (!conds.some((c) => c.type === 'Ready' && c.reason === 'Evicted')) await this.report(vm as StoredObject, 'False', 'Evicted');
        continue;
      }
      if (!this.running.has(uid)) {
        const r: RunInterval = { vm: `${vm.metadata.namespace}/${vm.metadata.name}`, uid, host: this.o.host, start: now };
        this.o.ledger.intervals.push(r);
        this.running.set(uid, r);
      }
      const ready = conds.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True') await this.report(vm as StoredObject, 'True', 'Running');
    }
  }

  private async report(vm: StoredObject, status: 'True' | 'False', reason: string): Promise<void> {
    if (this.killed) return;
    await this.o.store.guaranteedUpdate({ kind: 'VirtualMachine', namespace: vm.metadata.namespace ?? '', name: vm.metadata.name }, (cur) => {
      if (cur.metadata.uid !== vm.metadata.uid || cur.status?.host !== this.o.host) return undefined;
      cur.status.conditions = setCondition(cur.status.conditions as never, {
        type: 'Ready', status, reason, message: status === 'True' ? 'domain running' : 'domain stopped', observedGeneration: cur.metadata.generation,
      }, Date.now());
      return cur;
    }, { status: true, maxRetries: 3 });
  }
}
