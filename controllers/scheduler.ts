// The scheduler: places unbound VirtualMachines on Hosts. Any number of replicas run at once
// with no leader (Omega-style shared state): each decides from its own cache, claims the rack or
// zone records of the VM's anti-affinity group (topology-claims.ts) and capacity on the host's
// allocation record, each by compare-and-set, then binds the VM (status.host + Scheduled) by
// compare-and-set on the VM; claims whose bind failed are released. A VM no host fits gets
// Scheduled=False/Unschedulable with the count of hosts each filter rejected, and is retried
// when a host changes or capacity is freed. A VM with interfaces on Networks goes only to hosts
// that can build them (filters.ts), and claims an address per interface (ipam/) before its
// capacity claim; the addresses are bound in the same compare-and-set as status.host.

import type { VirtualMachineObject, VolumeObject } from '../store';
import { ConflictError, ErrorCode, hasCode } from '../errors';
import type { AddressStatus, VirtualMachineStatus } from '../schemas/types.gen';
import { getCondition, setCondition } from '../kube/conditions';
import { jsonEqual } from '../kube/equal';
import { capacityFreed, type Claim } from './placement/allocation-record';
import type { PlacementCache } from './placement/cache';
import { claimPlacement, releasePlacement } from './placement/claims';
import { candidateOrder, decide, unschedulableMessage } from './placement/decide';
import { requiredAntiAffinity, type NetworkNeed } from './placement/filters';
import { AddressClaimCache } from './ipam/cache';
import {
  claimAddresses, networkKeyOf, releaseAddressClaim, resolveNetworks, type IpamReason, type KnownClaim, type NetworkLookup,
} from './ipam';
import { networkInterfaces } from '../kube/networks';
import { sharedPoolsNeeded } from '../kube/disks';
import { vmRequest, type Resources } from '../kube/resources';
import type { Policy } from './placement/scores';
import { groupTerms, topologyClaimsOn } from './placement/topology-claims';
import {
  Controller, TerminalError, systemClock, storeKey, type CachedObject, type Clock,
  type ReconcileContext, type ReconcileResult,
} from '../runtime';
import { derivePhase, strandedByHostDeletion } from './vm-status';
import type { PlacementDeps } from './placement-deps';
import { NO_EVENTS, type EventRecorder } from '../runtime/events';

export interface SchedulerOptions extends PlacementDeps {
  cache: PlacementCache;
  /** this replica's name, recorded in claims */
  identity: string;
  /** random source (queue order, sample start, candidate order); default Math.random */
  random?: () => number;
  /** concurrent decisions; default 16 */
  workers?: number;
  /** default spread */
  defaultPolicy?: Policy;
  /** feasible hosts to score at most (bounded decision cost); default 100 */
  sampleSize?: number;
  /**
   * pick at random among this many best hosts; default 3. Widened up to 4x while this replica's
   * claims keep losing races to other replicas (they rank hosts alike), so contended replicas
   * spread over more hosts instead of colliding on the same few.
   */
  topCandidates?: number;
  /** hosts to try claiming on per attempt; default 5 */
  maxClaimHosts?: number;
  /** re-check an unschedulable VM this often even when nothing changed; default 60 000 ms */
  unschedulableRetryMs?: number;
  /** retry after this when another replica holds a claim for the VM; default 2000 ms */
  takenRetryMs?: number;
  /** a topology claim of the same VM older than this is a dead attempt's and is taken over; default 30 000 ms */
  staleClaimMs?: number;
  /** resync of every VM key; default 300 000 ms */
  resyncPeriodMs?: number;
}

type BindOutcome = { outcome: 'ok' | 'gone' | 'changed' | 'conflict' } | { outcome: 'elsewhere'; addresses: readonly AddressStatus[] };

const vmKind = 'VirtualMachine';

function needsPlacement(o: CachedObject<VirtualMachineObject>): boolean {
  return !o.status?.host && !o.metadata.deletionTimestamp && o.spec.runStrategy !== 'Halted'
    && !strandedByHostDeletion(o);
}

export class Scheduler {
  readonly name = 'scheduler';
  readonly controller: Controller;
  private readonly o: SchedulerOptions;
  private readonly clock: Clock;
  private readonly rng: () => number;
  private readonly events: EventRecorder;
  /** VMs last found unschedulable: re-queued when hosts change or capacity is freed */
  private readonly unschedulable = new Set<string>();
  /** deleted bound VMs whose claim is still to be released */
  private readonly releases = new Map<string, { host: string; uid: string }>();
  /** VMs waiting for a Network or an address (key → "ns/name" of their Networks): re-queued when those change or free an address */
  private readonly waitingOnNetworks = new Map<string, readonly string[]>();
  private readonly addresses: AddressClaimCache;
  /**
   * Address claims this replica created for a VM that no bind of its own confirmed yet (another
   * replica may bind the VM with other addresses): released once the VM is bound without them or gone.
   */
  private readonly unconfirmed = new Map<string, { uid: string; claims: KnownClaim[] }>();
  private readonly networkLookup: NetworkLookup;

  constructor(o: SchedulerOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.rng = o.random ?? Math.random;
    this.events = o.events ?? NO_EVENTS;
    this.controller = new Controller({
      name: 'scheduler', logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 16, resyncPeriodMs: o.resyncPeriodMs,
      queue: { order: 'random', random: this.rng, qps: 500, burst: 2000 },
      reconciler: (key, ctx) => this.reconcile(key, ctx),
    });
    const { hosts, allocations, vms, networks, addressClaims } = o.informers;
    this.addresses = o.addresses ?? new AddressClaimCache(addressClaims, { now: () => this.clock.now() });
    this.networkLookup = (namespace, name) => networks.get(`${namespace}/${name}`);
    this.controller.watch(vms, (vm) => (needsPlacement(vm) ? `${vm.metadata.namespace}/${vm.metadata.name}` : undefined));
    vms.addHandlers({
      onDelete: (key, vm) => {
        if (vm.status?.host) {
          this.releases.set(key, { host: vm.status.host, uid: vm.metadata.uid! });
          this.controller.enqueue(key);
        } else if (this.unconfirmed.has(key)) this.controller.enqueue(key);
      },
    });
    hosts.addHandlers({
      onAdd: () => this.retryUnschedulable(),
      onUpdate: (_k, a, b) => {
        if (a.metadata.generation !== b.metadata.generation || !jsonEqual(a.metadata.labels, b.metadata.labels)
          || !jsonEqual(a.status?.capacity, b.status?.capacity)
          || !jsonEqual(a.status?.conditions, b.status?.conditions)
          || !jsonEqual(a.status?.networking, b.status?.networking)) this.retryUnschedulable();
      },
    });
    networks.addHandlers({
      onAdd: (k) => this.retryWaiting(k),
      onUpdate: (k, a, b) => {
        if (a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp) {
          this.retryWaiting(k);
          this.retryUnschedulable(); // a new mode may fit other hosts
        }
      },
      onDelete: (k) => this.retryWaiting(k),
    });
    addressClaims.addHandlers({
      onDelete: (_k, c) => this.retryWaiting(`${c.metadata.namespace ?? ''}/${c.spec.network}`),
    });
    allocations.addHandlers({
      onUpdate: (_k, a, b) => {
        if (capacityFreed(a, b)) this.retryUnschedulable();
      },
      onDelete: () => this.retryUnschedulable(),
    });
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  private retryUnschedulable(): void {
    for (const k of this.unschedulable) this.controller.enqueue(k);
  }

  /** Re-queues the VMs waiting for Network `networkKey` (it appeared, changed, or an address of it was freed). */
  private retryWaiting(networkKey: string): void {
    for (const [k, nets] of this.waitingOnNetworks) if (nets.includes(networkKey)) this.controller.enqueue(k);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const { store, cache, metrics } = this.o;
    const pendingRelease = this.releases.get(key);
    if (pendingRelease) {
      if (await releasePlacement(store, pendingRelease.host, pendingRelease.uid, { cache })) metrics.releases.inc({ reason: 'vm-deleted' });
      this.releases.delete(key);
    }
    const vm = this.o.informers.vms.get(key);
    if (!vm || !needsPlacement(vm)) {
      this.unschedulable.delete(key);
      this.waitingOnNetworks.delete(key);
      await this.settleUnconfirmed(key, vm);
      return {};
    }
    // The cache lags other replicas by a poll interval: a quorum read (cheap, no Paxos) skips a
    // VM another replica has just bound, and gives the bind the newest resourceVersion. Read before deciding,
    // so nothing awaits between the decision and the reservation of its host (but a VM's first
    // address claims: the capacity claim checks the fresh allocation record anyway).
    const fresh = await store.get<VirtualMachineObject>(storeKey(vmKind, key));
    if (!fresh || fresh.metadata.uid !== vm.metadata.uid || !needsPlacement(fresh)) {
      await this.settleUnconfirmed(key, fresh);
      return {};
    }
    if (fresh.metadata.generation !== vm.metadata.generation) throw new ConflictError(`${key} changed while placing it; retrying`);
    const started = this.clock.now();
    let request: Resources;
    try {
      request = vmRequest(vm);
    } catch (err) {
      await this.writeScheduled(fresh, 'False', 'InvalidSpec', String((err as Error).message));
      this.events.event(fresh, 'Warning', 'FailedScheduling', `invalid spec: ${(err as Error).message}`);
      throw new TerminalError(`cannot place ${key}: ${(err as Error).message}`);
    }
    // The VM's Networks, checked before deciding (pure): a missing or unusable one, or a fixed
    // address it cannot hand out, keeps the VM Pending with that reason.
    const resolved = resolveNetworks(fresh, this.networkLookup);
    if (!resolved.ok) return this.waitForNetwork(key, fresh, resolved.reason, resolved.message);
    const networks: NetworkNeed[] = resolved.interfaces.map((i) => ({
      name: i.spelled, mode: i.network.spec.mode ?? 'nat', ...(i.network.spec.bridge ? { interface: i.network.spec.bridge.interface } : {}),
    }));
    const placement = vm.spec.placement;
    // A VM whose disks use Volumes already created (or pinned) on a host can only go there.
    const pin = await this.volumeHost(vm);
    if (pin.conflict) {
      this.unschedulable.add(key);
      await this.writeScheduled(fresh, 'False', 'Unschedulable', pin.conflict);
      this.events.event(fresh, 'Warning', 'FailedScheduling', pin.conflict);
      return { requeueAfterMs: this.o.unschedulableRetryMs ?? 60_000 };
    }
    // Disks kept on a shared pool (a VM that moved, or moves): only hosts with that pool fit.
    const sharedPools = sharedPoolsNeeded(vm);
    const d = decide(
      {
        key, namespace: vm.metadata.namespace ?? '', labels: vm.metadata.labels ?? {}, request, placement,
        ...(pin.host ? { onlyHost: { host: pin.host, why: 'volume on another host' } } : {}),
        ...(networks.length > 0 ? { networks } : {}),
        ...(sharedPools.length > 0 ? { sharedPools } : {}),
      },
      cache,
      {
        defaultPolicy: this.o.defaultPolicy, sampleSize: this.o.sampleSize, startIndex: Math.floor(this.rng() * 1e9), rng: this.rng,
        keep: Math.max(4 * (this.o.topCandidates ?? 3), this.o.maxClaimHosts ?? 5),
      },
    );
    metrics.decision.observe((this.clock.now() - started) / 1000);
    if (d.ranked.length === 0) {
      this.waitingOnNetworks.delete(key);
      this.unschedulable.add(key);
      metrics.unschedulable.inc();
      const message = unschedulableMessage(d);
      await this.writeScheduled(fresh, 'False', 'Unschedulable', message);
      this.events.event(fresh, 'Warning', 'FailedScheduling', message);
      ctx.logger.debug({ message }, 'unschedulable');
      return { requeueAfterMs: this.o.unschedulableRetryMs ?? 60_000 };
    }

    const uid = vm.metadata.uid!;
    const labels = vm.metadata.labels;
    const by = `${this.o.identity}/${ctx.reconcileId}`;
    // Addresses are claimed once a host can take the VM (a VM no host fits holds none) and before
    // the capacity claim (an address that cannot be had leaves no capacity claim to undo). They do
    // not depend on the host, so one claim serves every host tried, and later attempts reuse it.
    let addresses: AddressStatus[] = [];
    let created: KnownClaim[] = [];
    if (resolved.interfaces.length > 0) {
      const got = await claimAddresses(store, {
        vm: fresh, interfaces: resolved.interfaces, networks: this.networkLookup, claims: this.addresses, by, now: this.clock.now(), rng: this.rng,
        onCollision: () => metrics.addressCollisions.inc(),
      });
      if (!got.ok) {
        metrics.addressClaims.inc({ outcome: got.reason });
        if (got.reason === 'Conflict') throw new ConflictError(`${key}: ${got.message}; retrying`);
        return this.waitForNetwork(key, fresh, got.reason, got.message);
      }
      addresses = got.addresses;
      created = got.created;
      if (created.length > 0) {
        const u = this.unconfirmed.get(key);
        if (u && u.uid === uid) u.claims.push(...created);
        else this.unconfirmed.set(key, { uid, claims: [...created] });
      }
      metrics.addressClaims.inc({ outcome: 'created' }, created.length);
      if (addresses.length > created.length) metrics.addressClaims.inc({ outcome: 'reused' }, addresses.length - created.length);
    }
    this.waitingOnNetworks.delete(key);
    const held = requiredAntiAffinity(placement);
    const groups = groupTerms(placement, labels);
    /** topology records another VM holds, learnt this attempt: their domains' other hosts are skipped */
    const occupied = new Set<string>();
    const order = candidateOrder(d.ranked, this.topK(), this.rng).slice(0, this.o.maxClaimHosts ?? 5);
    for (const host of order) {
      const view = cache.host(host);
      if (!view?.allocatable) continue;
      const refs = topologyClaimsOn(groups, view);
      if (refs.some((r) => occupied.has(r.name))) continue;
      const claim: Claim = {
        vm: key, cpu: request.cpu, memory: request.memory, storage: request.storage, labels,
        ...(held.length > 0 ? { antiAffinity: held } : {}), ...(refs.length > 0 ? { topologyClaims: refs.map((r) => r.name) } : {}),
        by, at: this.clock.now(),
      };
      cache.reserve(host, uid, request);
      let out;
      try {
        out = await claimPlacement(store, {
          host, uid, claim, allocatable: view.allocatable, refs, staleMs: this.o.staleClaimMs,
          onConflict: () => {
            metrics.conflicts.inc({ stage: 'claim' });
            this.noteClaim(true);
          },
        });
        if (out.ok) this.noteClaim(false);
        if (out.ok) cache.assume(out.record);
      } finally {
        cache.unreserve(host, uid);
      }
      if (!out.ok) {
        if (out.why === 'taken') {
          metrics.conflicts.inc({ stage: 'taken' });
          return { requeueAfterMs: this.o.takenRetryMs ?? 2000 };
        }
        if (out.why === 'occupied') {
          metrics.conflicts.inc({ stage: 'topology' });
          occupied.add(out.ref.name);
        }
        if (out.why === 'nofit') metrics.conflicts.inc({ stage: 'stale' });
        continue;
      }
      const bound = await this.bind(key, fresh, host, addresses);
      if (bound.outcome === 'ok') {
        await this.settleUnconfirmed(key, { metadata: fresh.metadata, status: { host, addresses } });
        this.events.event(fresh, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${host}`);
        this.unschedulable.delete(key);
        metrics.placements.inc();
        metrics.attempt.observe((this.clock.now() - started) / 1000);
        ctx.logger.debug({ host }, 'bound');
        return {};
      }
      if (await releasePlacement(store, host, uid, { by, cache })) metrics.releases.inc({ reason: 'bind-failed' });
      // Addresses this replica claimed are released when the VM is gone, or bound by another
      // replica with other addresses; otherwise the next attempt reuses them.
      if (bound.outcome === 'gone') {
        await this.settleUnconfirmed(key, undefined);
        return {};
      }
      if (bound.outcome === 'elsewhere') {
        await this.settleUnconfirmed(key, { metadata: fresh.metadata, status: { host: 'elsewhere', addresses: [...bound.addresses] } });
        return {};
      }
      throw new ConflictError(`binding ${key} to ${host} lost a race (${bound.outcome}); retrying`);
    }
    throw new ConflictError(`every claim for ${key} lost a race; retrying`);
  }

  /**
   * The host the VM's Volumes live on (their status.host, or spec.host when pinned), read at
   * quorum; `conflict` when they live on different hosts.
   */
  private async volumeHost(vm: CachedObject<VirtualMachineObject>): Promise<{ host?: string; conflict?: string }> {
    const names = [...new Set((vm.spec.disks ?? []).flatMap((dk) => (dk.volume ? [dk.volume] : [])))];
    if (names.length === 0) return {};
    const namespace = vm.metadata.namespace ?? '';
    const where = new Map<string, string>();
    for (const name of names) {
      const v = await this.o.store.get<VolumeObject>({ kind: 'Volume', namespace, name });
      const host = v?.status?.host ?? v?.spec.host;
      if (host) where.set(name, host);
    }
    const hosts = [...new Set(where.values())];
    if (hosts.length > 1) {
      return { conflict: `its volumes are on different hosts: ${[...where].map(([n, h]) => `${n} on ${h}`).join(', ')}` };
    }
    return hosts.length === 1 ? { host: hosts[0] } : {};
  }

  /** Recent share of this replica's claim writes that lost a race (moving average). */
  private contention = 0;

  private noteClaim(lost: boolean): void {
    this.contention += 0.05 * ((lost ? 1 : 0) - this.contention);
  }

  /** How many of the best hosts to choose among: topCandidates, widened under contention. */
  private topK(): number {
    const k = this.o.topCandidates ?? 3;
    return Math.min(4 * k, Math.round(k * (1 + 6 * this.contention)));
  }

  /** Compare-and-set of status.host, status.addresses and Scheduled=True on the VM (re-read at SERIAL after a conflict). */
  private async bind(key: string, decided: VirtualMachineObject, host: string, addresses: readonly AddressStatus[]): Promise<BindOutcome> {
    const { store, metrics } = this.o;
    let cur: VirtualMachineObject | undefined = decided;
    for (let i = 0; i < 5; i++) {
      if (i > 0) cur = await store.get<VirtualMachineObject>(storeKey(vmKind, key), { serial: true });
      if (!cur || cur.metadata.uid !== decided.metadata.uid || cur.metadata.deletionTimestamp) return { outcome: 'gone' };
      if (cur.status?.host) return cur.status.host === host ? { outcome: 'ok' } : { outcome: 'elsewhere', addresses: cur.status.addresses ?? [] };
      if (cur.metadata.generation !== decided.metadata.generation) return { outcome: 'changed' };
      const status: VirtualMachineStatus = structuredClone(cur.status ?? {});
      status.host = host;
      if (addresses.length > 0) status.addresses = structuredClone([...addresses]);
      else delete status.addresses;
      status.conditions = setCondition(status.conditions, {
        type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `bound to ${host} by ${this.o.identity}`,
        observedGeneration: cur.metadata.generation,
      }, this.clock.now());
      status.phase = derivePhase({ ...cur, status }).phase;
      try {
        // cur is the object as read (the decision's quorum read, or a SERIAL re-read): no read again.
        await store.updateStatus({ ...cur, status }, { current: cur });
        return { outcome: 'ok' };
      } catch (err) {
        if (!hasCode(err, ErrorCode.Conflict)) throw err;
        metrics.conflicts.inc({ stage: 'bind' });
      }
    }
    return { outcome: 'conflict' };
  }

  /**
   * Releases the address claims this replica made for VM `key` that its binding does not list
   * (`vm` bound), or all of them (`vm` gone or replaced); keeps them while it waits for placement.
   */
  private async settleUnconfirmed(key: string, vm: Readonly<Pick<VirtualMachineObject, 'metadata' | 'status'>> | undefined): Promise<void> {
    const u = this.unconfirmed.get(key);
    if (!u) return;
    const same = vm?.metadata.uid === u.uid;
    if (same && !vm.status?.host) return;
    this.unconfirmed.delete(key);
    const listed = new Set((same ? vm.status?.addresses ?? [] : []).map((a) => `${a.network}|${a.name}|${a.ipAddress}`));
    for (const c of u.claims) {
      if (listed.has(`${c.namespace}/${c.spec.network}|${c.spec.interface}|${c.spec.address}`)) continue;
      if (await releaseAddressClaim(this.o.store, c, this.addresses)) this.o.metrics.addressReleases.inc({ reason: same ? 'bind-lost' : 'vm-deleted' });
    }
  }

  /**
   * A VM that cannot have its addresses yet (a Network missing or not ready, a fixed address
   * invalid or held, the network exhausted): Scheduled=False with the reason, a Warning Event when
   * that is news, and a retry when one of its Networks changes or frees an address.
   */
  private async waitForNetwork(key: string, vm: CachedObject<VirtualMachineObject>, reason: IpamReason, message: string): Promise<ReconcileResult> {
    this.unschedulable.delete(key);
    this.waitingOnNetworks.set(key, networkInterfaces(vm.metadata.namespace ?? '', vm.spec).map((i) => `${i.ref.namespace}/${i.ref.name}`));
    if (await this.writeScheduled(vm, 'False', reason, message)) this.events.event(vm, 'Warning', 'FailedScheduling', `${reason}: ${message}`);
    return { requeueAfterMs: this.o.unschedulableRetryMs ?? 60_000 };
  }

  /** Writes the Scheduled condition (and phase) unless it already says the same; true when written. */
  private async writeScheduled(vm: CachedObject<VirtualMachineObject>, status: 'True' | 'False', reason: string, message: string): Promise<boolean> {
    const conds = vm.status?.conditions;
    const prev = getCondition(conds, 'Scheduled');
    const gen = vm.metadata.generation;
    if (prev && prev.status === status && prev.reason === reason && prev.message === message && prev.observedGeneration === gen) return false;
    const next: VirtualMachineObject = structuredClone(vm);
    const st = (next.status ??= {});
    st.conditions = setCondition(conds, { type: 'Scheduled', status, reason, message, observedGeneration: gen }, this.clock.now());
    const derived = derivePhase(next);
    st.phase = derived.phase;
    if (derived.observedGeneration !== undefined) st.observedGeneration = derived.observedGeneration;
    await this.o.store.updateStatus(next);
    return true;
  }
}
