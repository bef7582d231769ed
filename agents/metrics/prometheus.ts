/**
 * AgentMetrics: the Prometheus metrics of one agent process, on a registry the caller passes in
 * (no globals), served by stratus-agent --metrics-port. Most values mirror state the agent keeps
 * anyway (the executor's call counts, each host's lease, domains, queues) and are read when
 * Prometheus scrapes, through prom-client's `collect`: the hot paths carry no instrumentation.
 * The reconcile counts and durations come from the controller runtime's ControllerMetrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ControllerMetrics } from '../../runtime';
import type { LibvirtExecutor } from '../../libvirt';
import type { LeaseState } from '../host/lease';
import type { VolumeStatus } from '../../schemas/types.gen';

/** What one host agent reports to the metrics, read at scrape time (HostAgent.snapshot()). */
export interface HostAgentSnapshot {
  host: string;
  /** 'starting' until the agent has a lease keeper */
  lease: LeaseState | 'starting';
  /** times the host fenced itself */
  fences: number;
  /** libvirt domains the agent manages on the host */
  domains: number;
  /** status (and finalizer) writes waiting or running */
  statusQueueDepth: number;
  /** the libvirt connection is up */
  libvirtConnected: boolean;
  /** connections replaced after a loss */
  libvirtReconnects: number;
  /** Volumes held by (or pinned to) the host, by status.phase */
  volumes: Readonly<Record<string, number>>;
}

/** The Volume phases reported (each host gets every one, 0 when it has none). */
export const VOLUME_PHASES: readonly NonNullable<VolumeStatus['phase']>[] = ['Pending', 'Available', 'InUse', 'Failed', 'Terminating'];

export const LEASE_STATES: readonly (LeaseState | 'starting')[] = ['starting', 'acquiring', 'held', 'fenced'];

export interface AgentMetricsOptions {
  registry: Registry;
  /** the libvirt worker pool of the process (shared by its hosts) */
  executor: LibvirtExecutor;
  /** the hosts of the process, read at each scrape */
  hosts: () => readonly HostAgentSnapshot[];
}

/** A counter whose value is copied from a running total at each scrape (prom-client has no set()). */
function mirrorCounter<L extends string>(c: Counter<L>, totals: Iterable<[Partial<Record<L, string>>, number]>): void {
  c.reset();
  for (const [labels, n] of totals) c.inc(labels, n);
}

export class AgentMetrics {
  readonly controllers: ControllerMetrics;

  constructor(o: AgentMetricsOptions) {
    const registers = [o.registry];
    const ex = o.executor;
    this.controllers = new ControllerMetrics(o.registry);
    new Counter({
      name: 'stratus_agent_libvirt_calls_total', help: 'libvirt calls made, by C function', labelNames: ['function'] as const, registers,
      collect() {
        mirrorCounter(this, [...ex.callCounts].map(([fn, n]) => [{ function: fn }, n]));
      },
    });
    new Counter({
      name: 'stratus_agent_libvirt_call_errors_total',
      help: 'libvirt calls that failed, by C function and libvirt error code (look-ups that found nothing count as VIR_ERR_NO_DOMAIN and the like)',
      labelNames: ['function', 'code'] as const, registers,
      collect() {
        mirrorCounter(this, [...ex.errorCounts].flatMap(([fn, byCode]) => [...byCode].map(([code, n]): [{ function: string; code: string }, number] => [{ function: fn, code }, n])));
      },
    });
    new Gauge({
      name: 'stratus_agent_libvirt_calls_pending', help: 'libvirt calls queued or running on the worker threads', registers,
      collect() {
        this.set(ex.pending);
      },
    });
    const perHost = (name: string, help: string, value: (s: HostAgentSnapshot) => number) =>
      new Gauge({
        name, help, labelNames: ['host'] as const, registers,
        collect() {
          this.reset();
          for (const s of o.hosts()) this.set({ host: s.host }, value(s));
        },
      });
    new Gauge({
      name: 'stratus_agent_lease_state', help: 'The host lease: 1 for the current state (starting, acquiring, held, fenced), 0 for the others',
      labelNames: ['host', 'state'] as const, registers,
      collect() {
        this.reset();
        for (const s of o.hosts()) for (const state of LEASE_STATES) this.set({ host: s.host, state }, s.lease === state ? 1 : 0);
      },
    });
    new Counter({
      name: 'stratus_agent_fences_total', help: 'Times the host fenced itself (stopped its domains after T_fence without its lease)', labelNames: ['host'] as const, registers,
      collect() {
        mirrorCounter(this, o.hosts().map((s) => [{ host: s.host }, s.fences]));
      },
    });
    new Counter({
      name: 'stratus_agent_libvirt_reconnects_total', help: 'libvirt connections replaced after the previous one was lost', labelNames: ['host'] as const, registers,
      collect() {
        mirrorCounter(this, o.hosts().map((s) => [{ host: s.host }, s.libvirtReconnects]));
      },
    });
    perHost('stratus_agent_libvirt_connected', '1 while the agent is connected to libvirt, 0 during an outage', (s) => (s.libvirtConnected ? 1 : 0));
    new Gauge({
      name: 'stratus_agent_volumes', help: 'Volumes held by (or pinned to) the host, by phase', labelNames: ['host', 'phase'] as const, registers,
      collect() {
        this.reset();
        for (const s of o.hosts()) for (const phase of VOLUME_PHASES) this.set({ host: s.host, phase }, s.volumes[phase] ?? 0);
      },
    });
    perHost('stratus_agent_domains', 'libvirt domains the agent manages on the host', (s) => s.domains);
    perHost('stratus_agent_status_queue_depth', 'Status and finalizer writes waiting or running', (s) => s.statusQueueDepth);
  }
}
