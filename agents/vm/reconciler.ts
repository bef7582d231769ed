/**
 * The VM reconciler of one host: reconcile("namespace/name") converges the libvirt domain and
 * volumes of a VirtualMachine bound to this host on its spec and writes its status.
 * Level-triggered (cache + libvirt, never the event); plan() decides, execute() acts; status is
 * written even when the sync failed; deletion goes through the agent's finalizer. A VM no longer
 * bound here (or gone) has whatever the agent owns of it removed. The storage of a Volume object
 * is created only after the Volume was claimed for this host (claimVolume), never removed here.
 */
import type { Logger } from 'pino';
import type { ObjectStore, VirtualMachineObject, VolumeObject } from '../../store';
import { TerminalError, splitKey, systemClock, type Clock, type ReconcileContext, type ReconcileResult } from '../../runtime';
import type { LibvirtConnection } from '../../libvirt';
import { domainName, vmVolumeName, VM_FINALIZER } from '../names';
import type { PoolCache } from '../host/pools';
import { OwnWrites } from '../own-writes';
import { writeObject, writeStatus } from '../status-writer';
import { buildDomainXml } from '../domain';
import { resolveDesired, type DesiredVm, type HostContext, type Problem, type ResolvedRefs } from './desired';
import { domainAfter, observeVm } from './observe';
import type { DomainNames } from './domain-names';
import { execute } from './execute';
import { volumesToKeep } from './disk-keep';
import { consoleFilesOf, prepareConsoleDir, removeConsoleDir } from '../console/files';
import { isActive, plan, type Observed, type Plan } from './plan';
import { computeStatus, mergeStatus, type AgentStatus, type DomainAfter } from './status';
import { KeyedJobs } from './status-queue';
import { vmEvents } from './events';
import type { EventRecorder } from '../../runtime/events';
import { selectRequest, type RequestSelection } from './requests';
import type { RefResolver } from './refs';
import type { DomainRegistry } from './registry';
import type { VmSource } from './source';
import type { SeedStore } from './seeds';
import type { ForwardPorts } from '../host/forwards';

export interface VmReconcilerOptions {
  host: string;
  store: ObjectStore;
  /** the host's current libvirt connection (it changes when libvirt is reconnected) */
  conn: () => LibvirtConnection;
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
  /** names of the domains on the connection, to skip looking up a domain known not to exist */
  domains?: DomainNames;
  /** true while libvirt work is queued: status writes wait for it (up to 2 s) */
  busy?: () => boolean;
  /** re-queue a key with backoff (a status write failed) */
  requeue?: (key: string) => void;
  /** how soon a VM the agent cannot build here is retried; default 15 000 ms */
  problemRetryMs?: number;
  /**
   * Makes Volume `namespace/name` this host's before its storage is created here (a Problem
   * when it cannot be): so two hosts never both create a Volume's storage.
   */
  claimVolume?: (namespace: string, name: string) => Promise<Problem | undefined>;
  /** the newest state of a Volume held here, fresher than the look-up cache (undefined: ask the cache) */
  freshVolume?: (namespace: string, name: string) => VolumeObject | undefined;
  /** the cloud-init seed ISOs, used when the host context has a seed folder */
  seeds?: SeedStore;
  /** the SSH port forwards, used when the host context forwards (real hosts) */
  forwards?: ForwardPorts;
  /** records what the reconciles did on the VMs (Created, Started, Stopped, Crashed...): agents/vm/events.ts */
  events?: EventRecorder;
  /**
   * The host side of the VMs' Networks: ensure(vm) resolves once the VM's bridges and firewall
   * ports are built (network/host-network.ts), or says why the VM must wait
   */
  networks?: { ensure(vm: VirtualMachineObject): Promise<Problem | undefined> };
  logger?: Logger;
}

/** A VM the agent cannot build or run here: leave what runs alone, but never run anything while fenced. */
function blockedPlan(problem: Problem, observed: Observed, fenced: boolean, host: string): Plan {
  const stop = fenced && observed.domain?.owner?.host === host && isActive(observed.domain.state);
  return { actions: stop ? [{ type: 'destroy' }] : [], intent: fenced ? 'fenced' : 'leave', cleanedUp: false, starts: false, restartPending: false, drift: [], blocked: problem };
}

/** What the sweep found on the host that may be this VM's (volumes without a domain). */
export type Leftovers = Map<string, { pool: string; name: string }[]>;

export class VmReconciler {
  private readonly clock: Clock;
  private readonly grace: number;
  /** per key: when the agent asked the guest to shut down */
  private readonly shutdownAt = new Map<string, number>();
  /**
   * The startTime this agent last wrote per VM, with the VM's uid and the domain's uuid: a
   * reconcile that runs before its own status write comes back through the cache must not take
   * the running domain for a fresh start and write a new startTime.
   */
  private readonly startTimes = new Map<string, { uid: string; domain: string; startTime: string }>();
  /** per key: ids of the state change requests carried out, until they leave status */
  private readonly honoured = new Map<string, Set<string>>();
  /** the VMs as this agent last wrote them (newer than the cache until the feed catches up) */
  private readonly own = new OwnWrites<VirtualMachineObject>();
  readonly leftovers: Leftovers = new Map();
  /** status (and finalizer) writes, off the reconcile path */
  readonly statusJobs: KeyedJobs;

  constructor(private readonly o: VmReconcilerOptions) {
    this.clock = o.clock ?? systemClock;
    this.grace = o.shutdownGraceMs ?? 60_000;
    this.statusJobs = new KeyedJobs({
      concurrency: o.statusWriters ?? 8,
      holdWhile: o.busy,
      clock: this.clock,
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
      const cur = this.own.current(key, this.o.source.boundTo(host, key));
      if (!cur || cur.metadata.uid !== uid) return;
      const status = (o: VirtualMachineObject) => mergeStatus(o.status ?? {}, s, now);
      let written: VirtualMachineObject | undefined;
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
      if (written && written !== cur) this.own.remember(key, written);
    });
  }

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
    return this.own.isOwn(key, obj);
  }

  /** `refs` with the Volumes this host holds replaced by their newest state (the look-up cache may be seconds old). */
  private withFreshVolumes(namespace: string, refs: ResolvedRefs): ResolvedRefs {
    const fresh = this.o.freshVolume;
    if (!fresh) return refs;
    const volumes = Object.fromEntries(Object.entries(refs.volumes).map(([n, v]) => [n, fresh(namespace, n) ?? v]));
    return { ...refs, volumes };
  }

  /** Claims the Volumes whose storage the plan creates; the first refusal, if any. */
  private async claimVolumes(namespace: string, desired: DesiredVm | undefined, p: Plan): Promise<Problem | undefined> {
    if (!desired || !this.o.claimVolume) return undefined;
    const creating = new Set(p.actions.flatMap((a) => (a.type === 'createVolume' ? [`${a.pool}/${a.name}`] : [])));
    for (const v of desired.volumes) {
      if (!v.volumeObject || !creating.has(`${v.pool}/${v.name}`)) continue;
      const refused = await this.o.claimVolume(namespace, v.volumeObject);
      if (refused) return refused;
    }
    return undefined;
  }

  async reconcile(key: string, ctx?: Pick<ReconcileContext, 'logger'>): Promise<ReconcileResult> {
    const { host, store } = this.o;
    const conn = this.o.conn();
    const log = ctx?.logger ?? this.o.logger;
    const { namespace, name } = splitKey(key);
    const storeKey = { kind: 'VirtualMachine', namespace, name };
    const vm = this.own.current(key, this.o.source.boundTo(host, key));
    const fenced = this.o.fenced();

    const deleting = vm?.metadata.deletionTimestamp !== undefined;
    const spec = vm?.spec;

    let desired: DesiredVm | undefined;
    let problem: Problem | undefined;
    if (vm && !deleting) {
      // A VM on the user-mode network of a real host gets its SSH port before its domain is built.
      if (this.o.hostContext().forward && (spec!.networks ?? [{ name: 'default' }]).some((n) => n.name === 'default' && !n.network)) await this.o.forwards?.ensure(key);
      const refs = this.withFreshVolumes(namespace, await this.o.refs.resolve(namespace, spec!));
      // The shared pools (agents/host/pools.ts) unless the host context already says (H4: disks move with the VM).
      const r = resolveDesired(vm, refs, { sharedPools: this.o.pools.shared(), ...this.o.hostContext() });
      desired = r.desired;
      problem = r.problem;
      // A domain on a Network is defined and started only once its taps exist on their bridges (libvirt only opens them).
      const waiting = desired && (await this.o.networks?.ensure(vm));
      if (waiting) {
        desired = undefined;
        problem = waiting;
      }
    }
    const extra = [...(this.leftovers.get(key) ?? [])];
    if (vm && deleting) {
      // The volumes this VM's disks were given here, even if its domain is already gone.
      for (const d of spec?.disks ?? []) {
        if (!d.volume) extra.push({ pool: this.o.hostContext().pool, name: vmVolumeName(namespace, name, d.name, vm.metadata.uid!) });
      }
    }
    const domains = this.o.domains;
    const observed = await observeVm({
      conn, pools: this.o.pools, namespace, name, desired, extraVolumes: extra,
      domainAbsent: domains && ((n) => domains.knownAbsent(conn, n)),
      seeds: this.o.hostContext().seedDir !== undefined ? this.o.seeds : undefined,
    });
    observed.shutdownRequestedAt = this.shutdownAt.get(key);
    if (desired && vm && resizeRefused(vm)) desired = holdCompute(desired, observed);

    // The start, stop or restart request to act on: the oldest one not carried out yet (requests.ts).
    const selection = desired ? this.selectRequest(key, desired, observed) : { drop: [], more: 0 };

    let p: Plan;
    if (problem) {
      p = blockedPlan(problem, observed, fenced, host);
    } else {
      p = plan({
        host, desired: vm && !deleting ? desired : undefined, observed, fenced, now: this.clock.now(), shutdownGraceMs: this.grace,
        request: selection.head,
        // Not bound here (moved or gone): what the VM keeps of its disks (H4: agents/vm/disk-keep.ts).
        ...(vm ? {} : { keep: await volumesToKeep(store, namespace, name, observed.volumes, (pool) => this.o.pools.sharedId(pool)) }),
      });
      problem = p.blocked;
    }

    // A start is the one action that could make a VM run twice. The cache can be behind a
    // rebinding only if the host was fenced (T_resched > T_fence): until the change feed has been
    // read since the lease came back, confirm the binding against the store first.
    if (p.starts && !(this.o.cacheFresh?.() ?? false)) {
      const fresh = await store.get<VirtualMachineObject>(storeKey);
      if (!fresh || fresh.status?.host !== host || fresh.metadata.uid !== vm?.metadata.uid || fresh.metadata.deletionTimestamp) {
        log?.info('binding changed since the cache was filled; waiting for the change feed');
        return { requeueAfterMs: 200 };
      }
    }

    const refused = await this.claimVolumes(namespace, desired, p);
    if (refused) {
      problem = refused;
      p = blockedPlan(refused, observed, fenced, host);
    }

    const dname = domainName(namespace, name);
    // Real hosts: the VM's console folder, where qemu opens its serial socket and log (console/files.ts).
    const hostCtx = this.o.hostContext();
    const consoleFiles = consoleFilesOf(hostCtx.consoleDir, hostCtx.virtType, namespace, name);
    const result = await execute(p.actions, {
      conn, pools: this.o.pools, domainName: dname, expectEvent: (ev) => this.expect(dname, ev), beforeBoot: () => prepareConsoleDir(consoleFiles),
      seeds: this.o.seeds, seedFiles: desired?.seed?.files,
    });
    if (result.done.length > 0) log?.info({ actions: result.done.map((a) => a.type), intent: p.intent }, 'converged domain');
    if (result.error) log?.warn({ err: result.error.message, reason: result.error.reason }, 'action failed');
    // The VM's SSH forward port was taken by another program meanwhile: give it up, so the next
    // reconcile picks a free one (the domain is redefined with it).
    if (result.error && /host forwarding rule/i.test(result.error.message)) this.o.forwards?.release(key);
    if (result.shutdownRequested) this.shutdownAt.set(key, this.clock.now());
    if (domains) {
      for (const a of result.done) {
        if (a.type === 'define') domains.add(dname);
        else if (a.type === 'undefine') domains.delete(dname);
      }
      // A define that failed may have met a domain of that name: look it up next time.
      if (result.error?.action === 'define') domains.add(dname);
    }

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
    if (p.cleanedUp && !result.error) {
      this.leftovers.delete(key);
      this.o.forwards?.release(key);
      await removeConsoleDir(consoleFiles).catch((err) => log?.warn({ err: String(err) }, 'removing the console folder failed'));
    }

    const finished = this.finishRequests(key, selection, p, result.error === undefined);
    if (!vm || deleting) this.honoured.delete(key);

    if (!vm) {
      this.own.forget(key);
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
      this.own.forget(key);
      this.shutdownAt.delete(key);
      this.startTimes.delete(key);
      if (released && out) log?.info('removed the domain and volumes of a deleted VM; finalizer released');
      return {};
    }

    const now = this.clock.now();
    const known = this.startTimes.get(key);
    const previous = vm.status ?? {};
    const agentStatus = computeStatus({
      host,
      generation: vm.metadata.generation ?? 0,
      previous: !previous.startTime && known && known.uid === vm.metadata.uid && known.domain === after?.uuid ? { ...previous, startTime: known.startTime } : previous,
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
    if (agentStatus.startTime && after) this.startTimes.set(key, { uid: vm.metadata.uid!, domain: after.uuid, startTime: agentStatus.startTime });
    if (finished.length > 0) agentStatus.requests = { uid: vm.metadata.uid!, done: finished };
    for (const e of vmEvents({ host, domain: dname, previousPhase: vm.status?.phase, next: agentStatus, plan: p, observed, done: result.done, started: result.started, error: result.error, problem })) {
      this.o.events?.event(vm, e.type, e.reason, e.message);
    }
    this.submitStatus(key, vm.metadata.uid!, agentStatus, now);
    if (result.error) throw result.error;
    if (problem?.terminal) throw new TerminalError(problem.message);
    if (problem) return { requeueAfterMs: this.o.problemRetryMs ?? 15_000 };
    // One request done and more waiting: the next one at once (the agent's own status write wakes nothing).
    const next = finished.length > 0 && selection.more > 0 ? 0 : undefined;
    const delays = [p.requeueAfterMs, next].filter((x): x is number => x !== undefined);
    return delays.length > 0 ? { requeueAfterMs: Math.min(...delays) } : {};
  }

  /** The request to act on, skipping those this agent (or the domain's mark) says are carried out already. */
  private selectRequest(key: string, desired: DesiredVm, observed: Observed): RequestSelection {
    const mine = this.honoured.get(key);
    const marked = new Set(observed.domain?.owner?.uid === desired.uid ? observed.domain.honouredRequests ?? [] : []);
    // Forget what has left status: ids are unique, so nothing needs them any more.
    if (mine) {
      const pending = new Set(desired.requests.map((r) => r.id));
      for (const id of mine) if (!pending.has(id)) mine.delete(id);
    }
    return selectRequest(desired.requests, desired.runStrategy, (id) => (mine?.has(id) ?? false) || marked.has(id));
  }

  /** The ids of the requests this reconcile completed (the skipped ones, and the acted-on one if it is done); remembered. */
  private finishRequests(key: string, selection: RequestSelection, p: Plan, succeeded: boolean): string[] {
    const done = [...selection.drop];
    if (p.request?.done && succeeded && !p.blocked) done.push(p.request.id);
    if (done.length > 0) {
      const mine = this.honoured.get(key) ?? new Set<string>();
      for (const id of done) mine.add(id);
      this.honoured.set(key, mine);
    }
    return done;
  }
}

/** The placement controllers refused the VM's new size on this host (Resized=False). */
function resizeRefused(vm: Pick<VirtualMachineObject, 'status'>): boolean {
  return (vm.status?.conditions ?? []).some((c) => c.type === 'Resized' && c.status === 'False');
}

/**
 * While a resize is refused, the host has granted only the old size: keep the domain's vCPUs and
 * memory as they are defined (the rest of the spec still applies).
 */
function holdCompute(desired: DesiredVm, observed: Observed): DesiredVm {
  const fp = observed.domain?.fingerprint;
  if (fp?.vcpus === undefined || fp.memoryKiB === undefined) return desired;
  if (fp.vcpus === desired.domain.vcpus && fp.memoryKiB === desired.domain.memoryKiB) return desired;
  const domain = { ...desired.domain, vcpus: fp.vcpus, memoryKiB: fp.memoryKiB };
  return { ...desired, domain, xml: buildDomainXml(domain) };
}
