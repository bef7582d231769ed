/**
 * The VM reconciler of one host: reconcile("namespace/name") converges the libvirt domain and
 * volumes of a VirtualMachine bound to this host on its spec and writes its status.
 * Level-triggered (cache + libvirt, never the event); plan() decides, execute() acts; status is
 * written even when the sync failed; deletion goes through the agent's finalizer. A VM no longer
 * bound here (or gone) has whatever the agent owns of it removed.
 */
import type { Logger } from 'pino';
import type { ObjectStore, StoredObject } from '../../store';
import type { VirtualMachineSpec, VirtualMachineStatus } from '../../schemas/types.gen';
import { compareRv } from '../../store';
import { TerminalError, splitKey, systemClock, type CachedObject, type Clock, type ReconcileContext, type ReconcileResult } from '../../controllers/runtime';
import type { LibvirtConnection } from '../libvirt';
import { domainName, vmVolumeName, VM_FINALIZER } from '../names';
import type { PoolCache } from '../host/pools';
import { writeObject, writeStatus } from '../status-writer';
import { resolveDesired, type DesiredVm, type HostContext, type Problem } from './desired';
import { domainAfter, observeVm } from './observe';
import { execute } from './execute';
import { isActive, plan, type Plan } from './plan';
import { computeStatus, mergeStatus, type AgentStatus, type DomainAfter } from './status';
import { KeyedJobs } from './status-queue';
import type { RefResolver } from './refs';
import type { DomainRegistry } from './registry';
import type { VmSource } from './source';

export interface VmReconcilerOptions {
  host: string;
  store: ObjectStore;
  conn: LibvirtConnection;
  pools: PoolCache;
  source: VmSource;
  refs: RefResolver;
  /** the host's facts (virt type, pools, console folder), read at each reconcile */
  hostContext: () => HostContext;
  /** true while the lease is not held: start nothing, stop everything */
  fenced: () => boolean;
  registry: DomainRegistry;
  clock?: Clock;
  /** grace of a graceful shutdown before destroy; default 60 000 ms */
  shutdownGraceMs?: number;
  /** true when the VM cache has read the change feed since the lease was last (re)acquired */
  cacheFresh?: () => boolean;
  /** concurrent status writes; default 8 */
  statusWriters?: number;
  /** true while libvirt work is queued: status writes wait for it (up to 2 s) */
  busy?: () => boolean;
  /** re-queue a key with backoff (a status write failed) */
  requeue?: (key: string) => void;
  /** how soon a VM the agent cannot build here is retried; default 15 000 ms */
  problemRetryMs?: number;
  logger?: Logger;
}

/** What the sweep found on the host that may be this VM's (volumes without a domain). */
export type Leftovers = Map<string, { pool: string; name: string }[]>;

export class VmReconciler {
  private readonly clock: Clock;
  private readonly grace: number;
  /** per key: when the agent asked the guest to shut down */
  private readonly shutdownAt = new Map<string, number>();
  /** per key: the object as this agent last wrote it (newer than the cache until the feed catches up) */
  private readonly written = new Map<string, StoredObject>();
  readonly leftovers: Leftovers = new Map();
  /** status (and finalizer) writes, off the reconcile path */
  readonly statusJobs: KeyedJobs;

  constructor(private readonly o: VmReconcilerOptions) {
    this.clock = o.clock ?? systemClock;
    this.grace = o.shutdownGraceMs ?? 60_000;
    this.statusJobs = new KeyedJobs({
      concurrency: o.statusWriters ?? 8,
      holdWhile: o.busy,
      onError: (key, err) => {
        o.logger?.debug({ key, err: String(err) }, 'writing status failed; reconciling again');
        o.requeue?.(key);
      },
    });
  }

  /**
   * Queues the write of the agent's status fields of VM `key` (incarnation `uid`): first our
   * finalizer if the VM lacks it (so a deletion waits for the cleanup; a VM deleted before it
   * lands leaves an orphan domain, which the agent removes), then the status, both by
   * compare-and-set on the newest object, and only while the VM is still bound here.
   */
  private submitStatus(key: string, uid: string, s: AgentStatus, now: number): void {
    const { store, host } = this.o;
    const storeKey = { kind: 'VirtualMachine', ...splitKey(key) };
    this.statusJobs.submit(key, async () => {
      const cur = this.current(key, this.o.source.boundTo(host, key));
      if (!cur || cur.metadata.uid !== uid) return;
      const status = (o: StoredObject) => mergeStatus((o.status ?? {}) as VirtualMachineStatus, s, now) as Record<string, unknown>;
      let written: StoredObject | undefined;
      if (!cur.metadata.deletionTimestamp && !(cur.metadata.finalizers ?? []).includes(VM_FINALIZER)) {
        // The finalizer and the first status in one compare-and-set.
        written = await writeObject(store, storeKey, cur, (o) => {
          if (o.metadata.uid !== uid || o.status?.host !== host) return undefined; // rebound meanwhile: not ours
          if (!o.metadata.deletionTimestamp && !(o.metadata.finalizers ?? []).includes(VM_FINALIZER)) {
            o.metadata.finalizers = [...(o.metadata.finalizers ?? []), VM_FINALIZER];
          }
          o.status = status(o);
          return o;
        }, { withStatus: true });
      } else {
        written = await writeStatus(store, storeKey, cur, (o) => {
          if (o.metadata.uid !== uid || o.status?.host !== host) return undefined; // rebound meanwhile: not ours to report
          return status(o);
        });
      }
      if (written && written !== cur) this.remember(key, written);
    });
  }

  /** Records an object this agent wrote: newer than the cache until the feed brings it back. */
  private remember(key: string, obj: StoredObject): void {
    this.written.set(key, obj);
    const rvs = this.ownRvs.get(key) ?? [];
    rvs.push(obj.metadata.resourceVersion!);
    if (rvs.length > 4) rvs.shift();
    this.ownRvs.set(key, rvs);
  }

  /** per key: resourceVersions of this agent's last few writes (their echoes need no reconcile) */
  private readonly ownRvs = new Map<string, string[]>();

  /** Lifecycle events the agent's own actions will cause, per domain, with an expiry. */
  private readonly expected = new Map<string, { event: string; until: number }[]>();

  private expect(domain: string, event: string): void {
    const now = this.clock.now();
    const l = (this.expected.get(domain) ?? []).filter((e) => e.until > now);
    l.push({ event, until: now + 5000 });
    this.expected.set(domain, l);
    if (this.expected.size > 10_000) {
      for (const [d, list] of this.expected) if (list.every((e) => e.until <= now)) this.expected.delete(d);
    }
  }

  /** True (and forgotten) if the agent caused this event itself: no reconcile needed. */
  consumeExpectedEvent(domain: string, event: string): boolean {
    const l = this.expected.get(domain);
    if (!l) return false;
    const now = this.clock.now();
    const live = l.filter((e) => e.until > now);
    const i = live.findIndex((e) => e.event === event);
    if (i >= 0) live.splice(i, 1);
    if (live.length) this.expected.set(domain, live);
    else this.expected.delete(domain);
    return i >= 0;
  }

  /** True if `obj` is the object this agent just wrote (its own echo through the change feed). */
  isOwnWrite(key: string, obj: { metadata: { resourceVersion?: string } }): boolean {
    const rvs = this.ownRvs.get(key);
    return rvs !== undefined && obj.metadata.resourceVersion !== undefined && rvs.includes(obj.metadata.resourceVersion);
  }

  /** The newer of the cached object and the one this agent last wrote. */
  private current(key: string, cached: CachedObject | undefined): StoredObject | undefined {
    const mine = this.written.get(key);
    if (!cached) return undefined;
    if (mine && mine.metadata.uid === cached.metadata.uid && compareRv(mine.metadata.resourceVersion!, cached.metadata.resourceVersion!) > 0) return mine;
    this.written.delete(key);
    return cached as StoredObject;
  }

  async reconcile(key: string, ctx?: Pick<ReconcileContext, 'logger'>): Promise<ReconcileResult> {
    const { host, store, conn } = this.o;
    const log = ctx?.logger ?? this.o.logger;
    const { namespace, name } = splitKey(key);
    const storeKey = { kind: 'VirtualMachine', namespace, name };
    const vm = this.current(key, this.o.source.boundTo(host, key));
    const fenced = this.o.fenced();

    const deleting = vm?.metadata.deletionTimestamp !== undefined;
    const spec = vm?.spec as unknown as VirtualMachineSpec | undefined;

    let desired: DesiredVm | undefined;
    let problem: Problem | undefined;
    if (vm && !deleting) {
      const refs = await this.o.refs.resolve(namespace, spec!);
      const r = resolveDesired(vm, refs, this.o.hostContext());
      desired = r.desired;
      problem = r.problem;
    }
    const extra = [...(this.leftovers.get(key) ?? [])];
    if (vm && deleting) {
      // The volumes this VM's disks were given here, even if its domain is already gone.
      for (const d of spec?.disks ?? []) {
        if (!d.volume) extra.push({ pool: this.o.hostContext().pool, name: vmVolumeName(namespace, name, d.name, vm.metadata.uid!) });
      }
    }
    const observed = await observeVm({ conn, pools: this.o.pools, namespace, name, desired, extraVolumes: extra });
    observed.shutdownRequestedAt = this.shutdownAt.get(key);

    let p: Plan;
    if (problem) {
      // Cannot build it: leave what runs alone, but never run anything while fenced.
      const stop = fenced && observed.domain?.owner?.host === host && isActive(observed.domain.state);
      p = { actions: stop ? [{ type: 'destroy' }] : [], intent: fenced ? 'fenced' : 'leave', cleanedUp: false, starts: false, restartPending: false, drift: [], blocked: problem };
    } else {
      p = plan({ host, desired: vm && !deleting ? desired : undefined, observed, fenced, now: this.clock.now(), shutdownGraceMs: this.grace });
      problem = p.blocked;
    }

    // A start is the one action that could make a VM run twice. The cache can be behind a
    // rebinding only if the host was fenced (T_resched > T_fence): until the change feed has been
    // read since the lease came back, confirm the binding against the store first.
    if (p.starts && !(this.o.cacheFresh?.() ?? false)) {
      const fresh = await store.get(storeKey);
      if (!fresh || fresh.status?.host !== host || fresh.metadata.uid !== vm?.metadata.uid || fresh.metadata.deletionTimestamp) {
        log?.info('binding changed since the cache was filled; waiting for the change feed');
        return { requeueAfterMs: 200 };
      }
    }

    const dname = domainName(namespace, name);
    const result = await execute(p.actions, { conn, pools: this.o.pools, domainName: dname, expectEvent: (ev) => this.expect(dname, ev) });
    if (result.done.length > 0) log?.info({ actions: result.done.map((a) => a.type), intent: p.intent }, 'converged domain');
    if (result.error) log?.warn({ err: result.error.message, reason: result.error.reason }, 'action failed');
    if (result.shutdownRequested) this.shutdownAt.set(key, this.clock.now());

    let after: DomainAfter | undefined;
    if (p.blocked?.reason === 'DomainNameConflict') after = undefined;
    else if (result.after !== undefined) after = result.after ?? undefined;
    else if (result.done.length === 0 && !result.error) after = observed.domain && { uuid: observed.domain.uuid, state: observed.domain.state, reason: observed.domain.reason };
    else after = await domainAfter(conn, dname);
    if (!after || !isActive(after.state) || p.intent !== 'stop') this.shutdownAt.delete(key);
    if (desired && after) {
      this.o.registry.set({
        key, namespace, name, uid: desired.uid, domain: dname, vcpus: desired.domain.vcpus,
        memoryBytes: desired.domain.memoryKiB * 1024, diskBytes: desired.volumes.reduce((s, v) => s + v.capacityBytes, 0),
      });
    } else if (!vm || deleting) {
      this.o.registry.deleteKey(key);
    }
    if (p.cleanedUp && !result.error) this.leftovers.delete(key);

    if (!vm) {
      this.written.delete(key);
      this.ownRvs.delete(key);
      if (result.error) throw result.error;
      return {};
    }

    if (deleting && p.cleanedUp && !result.error) {
      let released = false;
      const out = await writeObject(store, storeKey, vm, (cur) => {
        released = false;
        if (cur.metadata.uid !== vm!.metadata.uid || !(cur.metadata.finalizers ?? []).includes(VM_FINALIZER)) return undefined;
        cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER);
        released = true;
        return cur;
      });
      this.written.delete(key);
      this.ownRvs.delete(key);
      this.shutdownAt.delete(key);
      if (released && out) log?.info('removed the domain and volumes of a deleted VM; finalizer released');
      return {};
    }

    const now = this.clock.now();
    const agentStatus = computeStatus({
      host,
      generation: vm.metadata.generation ?? 0,
      previous: (vm.status ?? {}) as VirtualMachineStatus,
      desired,
      deleting,
      fenced,
      problem,
      plan: p,
      error: result.error ? { reason: result.error.reason, message: result.error.message } : undefined,
      after,
      started: result.started,
      now,
    });
    this.submitStatus(key, vm.metadata.uid!, agentStatus, now);
    if (result.error) throw result.error;
    if (problem?.terminal) throw new TerminalError(problem.message);
    if (problem) return { requeueAfterMs: this.o.problemRetryMs ?? 15_000 };
    return p.requeueAfterMs !== undefined ? { requeueAfterMs: p.requeueAfterMs } : {};
  }
}
