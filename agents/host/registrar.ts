/**
 * HostRegistrar: registers this hypervisor as a Host (labels from the agent's flags; capacity,
 * allocatable and nodeInfo from libvirt) and writes the heartbeat: status.heartbeatTime every
 * heartbeatIntervalMs, the field the host-health controller watches. Every success is reported
 * to the LeaseKeeper (fencing needs both the lease and the heartbeat), stamped with its send time
 * on the keeper's monotonic clock; the agent's T_fence is published as status.fenceAfterMs, so
 * host health never reschedules before it (controllers/host-health.ts). Only the agent's status
 * fields are written, by compare-and-set; of the conditions, the agent writes Fenced and those
 * its `conditions` option gives (LibvirtConnected), and leaves the others to host-health.
 * The heartbeat never depends on libvirt: when the facts cannot be re-read (libvirt is down), the
 * last ones are reported again, so an unreachable libvirt cannot make the host fence itself.
 */
import type { Logger } from 'pino';
import type { HostObject, ObjectStore } from '../../store';
import type { Condition, DaemonEndpoints, HostStatus } from '../../schemas/types.gen';
import { systemClock, type Clock } from '../../runtime';
import type { LibvirtConnection, NodeInfo } from '../../libvirt';
import { parseVmVolumeName } from '../names';
import { jsonEqual } from '../../kube/equal';
import { writeObject, writeStatus } from '../status-writer';
import { setCondition } from '../../kube/conditions';
import { Alarm } from './alarm';
import { hostAllocatable, hostCapacity, nodeInfoStatus, type StorageFacts } from './capacity';
import type { LeaseKeeper } from './lease';
import type { PoolCache } from './pools';
import { ErrorCode, hasCode } from '../../errors';

export const AGENT_LABELS_ANNOTATION = 'stratuslab.eu/agent-labels';

export interface HostRegistrarOptions {
  host: string;
  store: ObjectStore;
  /** the host's current libvirt connection */
  conn: () => LibvirtConnection;
  pools: PoolCache;
  /** the pool whose space is the host's storage capacity */
  pool: string;
  labels: Record<string, string>;
  libvirtUri: string;
  agentVersion: string;
  /** the hypervisor, known once libvirt is connected: 'Test' or 'QEMU', and whether it runs KVM */
  hypervisor: () => { name: string; kvm: boolean };
  /** default: what libvirt reports */
  hostname?: string;
  keeper: LeaseKeeper;
  /** more conditions the agent owns, written with each heartbeat (e.g. LibvirtConnected) */
  conditions?: () => Condition[];
  /** where the agent serves frontends (status.daemonEndpoints), written with each heartbeat once known */
  endpoints?: () => DaemonEndpoints | undefined;
  /**
   * The host's networking (status.networking, status.addresses, status.networks), written with
   * each heartbeat once known (a field left undefined keeps what the Host has)
   */
  networking?: () => HostNetworking | undefined;
  clock?: Clock;
  /** default 3000 ms (config/agent.ts: STRATUS_HEARTBEAT_MS) */
  heartbeatIntervalMs?: number;
  /** how often capacity is re-read from libvirt; default 60 000 ms */
  capacityRefreshMs?: number;
  logger?: Logger;
}

/** What the agent reports of the host's networking (HostNetworkController). */
export interface HostNetworking {
  networking?: HostStatus['networking'];
  /** the underlay address; null: none (removes status.addresses) */
  addresses?: HostStatus['addresses'] | null;
  networks?: HostStatus['networks'];
}

export class HostRegistrar {
  private readonly clock: Clock;
  private cached?: HostObject;
  private facts?: { node: NodeInfo; storage?: StorageFacts; hostname: string; libvirtVersion?: number; at: number };
  private readonly alarm: Alarm;
  /** callers of requestBeat() waiting for the next heartbeat */
  private beatWaiters: (() => void)[] = [];
  private running = false;

  constructor(private readonly o: HostRegistrarOptions) {
    this.clock = o.clock ?? systemClock;
    this.alarm = new Alarm(this.clock);
  }

  private get key() {
    return { kind: 'Host', namespace: '', name: this.o.host };
  }

  private async readFacts(): Promise<NonNullable<HostRegistrar['facts']>> {
    const conn = this.o.conn();
    const [node, hostname, libvirtVersion, storage] = await Promise.all([
      conn.getNodeInfo(),
      this.o.hostname ? Promise.resolve(this.o.hostname) : conn.getHostname(),
      conn.getLibVersion().catch(() => undefined),
      this.storageFacts(),
    ]);
    this.facts = { node, hostname, libvirtVersion, storage, at: this.clock.now() };
    return this.facts;
  }

  /** The pool's capacity minus what volumes that are not the agent's take up. */
  private async storageFacts(): Promise<StorageFacts | undefined> {
    const pool = await this.o.pools.get(this.o.pool);
    if (!pool) return undefined;
    await pool.refresh().catch(() => undefined);
    const info = await pool.getInfo();
    let foreign = 0;
    for (const v of await pool.listVolumes()) {
      try {
        if (!v.name.startsWith('stratus.') || !(parseVmVolumeName(v.name) || v.name.endsWith('.vol'))) foreign += (await v.getInfo()).allocationBytes;
      } finally {
        v.free();
      }
    }
    return { usableBytes: info.capacityBytes - foreign };
  }

  private status(cur: HostObject, heartbeatAt: number): HostStatus {
    const f = this.facts!;
    const hv = this.o.hypervisor();
    const prev: HostStatus = cur.status ?? {};
    const capacity = hostCapacity(f.node, f.storage);
    const fenced = this.o.keeper.state === 'fenced';
    let conditions = setCondition(structuredClone(prev.conditions), fenced
      ? { type: 'Fenced', status: 'True', reason: 'LeaseLost', message: 'the agent could not renew its lease for T_fence and stopped every domain' }
      : { type: 'Fenced', status: 'False', reason: 'LeaseHeld', message: 'the agent holds its lease' }, heartbeatAt);
    for (const c of this.o.conditions?.() ?? []) conditions = setCondition(conditions, c, heartbeatAt);
    const endpoints = this.o.endpoints?.();
    const net = this.o.networking?.();
    const base = structuredClone(prev);
    if (net?.addresses === null) delete base.addresses;
    return {
      ...base,
      ...(endpoints ? { daemonEndpoints: endpoints } : {}),
      ...(net?.networking ? { networking: net.networking } : {}),
      ...(net?.addresses ? { addresses: net.addresses } : {}),
      ...(net?.networks ? { networks: net.networks } : {}),
      capacity,
      allocatable: hostAllocatable(capacity, cur.spec),
      // Which pools this host has, and which are shared with other hosts (disks there move with their VMs).
      storagePools: this.o.pools.storageStatus(),
      heartbeatTime: new Date(heartbeatAt).toISOString(),
      // Host health never reschedules this host's VMs before this agent's T_fence (plus margins) passed.
      fenceAfterMs: this.o.keeper.fenceAfterMs,
      libvirtURI: this.o.libvirtUri,
      agentVersion: this.o.agentVersion,
      observedGeneration: cur.metadata.generation ?? 0,
      nodeInfo: nodeInfoStatus(f.node, { hostname: f.hostname, hypervisor: hv.name, libvirtVersion: f.libvirtVersion, kvm: hv.kvm }),
      conditions,
    };
  }

  /** Creates the Host or brings its agent-managed labels up to date. Idempotent. */
  async register(): Promise<HostObject> {
    await this.readFacts();
    const labels = this.o.labels;
    const managed = Object.keys(labels).sort().join(',');
    let cur = await this.o.store.get<HostObject>(this.key, { serial: true });
    if (!cur) {
      try {
        cur = await this.o.store.create<HostObject>({
          apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host',
          metadata: { name: this.o.host, labels: { ...labels }, annotations: { [AGENT_LABELS_ANNOTATION]: managed } },
          spec: {},
        });
      } catch (err) {
        if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
        cur = await this.o.store.mustGet<HostObject>(this.key, { serial: true });
      }
    }
    cur = (await writeObject(this.o.store, this.key, cur, (h) => {
      const before = (h.metadata.annotations?.[AGENT_LABELS_ANNOTATION] ?? '').split(',').filter(Boolean);
      const next = { ...(h.metadata.labels ?? {}) };
      for (const k of before) if (!(k in labels)) delete next[k];
      Object.assign(next, labels);
      if (jsonEqual(next, h.metadata.labels ?? {}) && (h.metadata.annotations?.[AGENT_LABELS_ANNOTATION] ?? '') === managed) return undefined;
      h.metadata.labels = next;
      h.metadata.annotations = { ...(h.metadata.annotations ?? {}), [AGENT_LABELS_ANNOTATION]: managed };
      return h;
    })) ?? cur;
    this.cached = cur;
    return cur;
  }

  /** Writes the heartbeat (and refreshed capacity) now; true on success. */
  async beat(): Promise<boolean> {
    const sentAt = this.clock.now();
    // The send time on the clock fencing is measured on (a late acknowledgement does not count).
    const stamp = this.o.keeper.stamp();
    try {
      if (!this.facts || sentAt - this.facts.at >= (this.o.capacityRefreshMs ?? 60_000)) {
        await this.readFacts().catch((err: unknown) => {
          // Libvirt unreachable: beat with the facts read last (the heartbeat is what keeps the
          // host from fencing, and libvirt has nothing to do with the lease).
          if (!this.facts) throw err;
          this.o.logger?.debug({ err: String(err) }, 'reading host facts from libvirt failed; reporting the last ones');
        });
      }
      const out = await writeStatus(this.o.store, this.key, this.cached, (cur) => this.status(cur, sentAt));
      if (!out) {
        // Deleted by an operator: register again.
        this.cached = undefined;
        await this.register();
        return false;
      }
      this.cached = out;
      this.o.keeper.heartbeatOk(stamp);
      return true;
    } catch (err) {
      this.cached = undefined;
      this.o.logger?.warn({ err: String(err) }, 'writing the host heartbeat failed');
      return false;
    }
  }

  /**
   * Writes a heartbeat now (a condition changed) and resolves once it was attempted. Goes through
   * the loop, so heartbeats never race each other; resolves at once when the loop is not running.
   */
  requestBeat(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.beatWaiters.push(resolve);
      this.alarm.wake();
    });
  }

  /** Beats every heartbeatIntervalMs (and when asked to) until `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    const every = this.o.heartbeatIntervalMs ?? 3000;
    this.running = true;
    try {
      while (!signal.aborted) {
        const t0 = this.clock.now();
        const waiters = this.beatWaiters.splice(0);
        await this.beat();
        for (const w of waiters) w();
        await this.alarm.nap(Math.max(0, every - (this.clock.now() - t0)), signal);
      }
    } finally {
      this.running = false;
      for (const w of this.beatWaiters.splice(0)) w();
    }
  }
}
