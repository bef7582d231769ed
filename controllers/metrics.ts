// Prometheus metrics of the placement, host-health and lifecycle controllers, on a registry the
// caller passes in (one per process; tests and benchmarks make their own).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ControllerMetrics } from '../runtime';

export class PlacementMetrics {
  readonly runtime: ControllerMetrics;
  readonly placements: Counter<string>;
  readonly conflicts: Counter<'stage'>;
  readonly unschedulable: Counter<string>;
  readonly decision: Histogram<string>;
  readonly attempt: Histogram<string>;
  readonly releases: Counter<'reason'>;
  readonly repairs: Counter<'type'>;
  readonly notReady: Gauge<string>;
  readonly rescheduled: Counter<string>;
  readonly addressClaims: Counter<'outcome'>;
  readonly addressCollisions: Counter<string>;
  readonly addressReleases: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.runtime = new ControllerMetrics(registry);
    this.placements = new Counter({ name: 'stratus_scheduler_placements_total', help: 'VMs bound to a host', registers });
    this.conflicts = new Counter({
      name: 'stratus_scheduler_conflicts_total',
      help: 'Lost optimistic-concurrency races: claim (compare-and-set on an allocation record), bind (on the VM), stale (the fresh record no longer fits), taken (another replica is placing the VM), topology (another member of an anti-affinity group holds the rack or zone)',
      labelNames: ['stage'] as const, registers,
    });
    this.unschedulable = new Counter({ name: 'stratus_scheduler_unschedulable_total', help: 'Decisions that found no feasible host', registers });
    this.decision = new Histogram({
      name: 'stratus_scheduler_decision_duration_seconds', help: 'Filter and score time of one decision (no I/O)',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers,
    });
    this.attempt = new Histogram({
      name: 'stratus_scheduler_attempt_duration_seconds', help: 'Decision, claim and bind of one VM',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    });
    this.releases = new Counter({ name: 'stratus_scheduler_claim_releases_total', help: 'Claims released, by reason', labelNames: ['reason'] as const, registers });
    this.repairs = new Counter({ name: 'stratus_allocation_audit_repairs_total', help: 'Allocation records repaired by the audit', labelNames: ['type'] as const, registers });
    this.notReady = new Gauge({ name: 'stratus_hosts_not_ready', help: 'Hosts whose lease expired', registers });
    this.addressClaims = new Counter({
      name: 'stratus_ipam_claims_total', help: 'Address claims of VM interfaces: created, reused (the VM held it), or failed with a reason (NoAddressAvailable, AddressInUse, ...)',
      labelNames: ['outcome'] as const, registers,
    });
    this.addressCollisions = new Counter({ name: 'stratus_ipam_collisions_total', help: 'Address claim creates lost to another claimant (tried the next address)', registers });
    this.addressReleases = new Counter({ name: 'stratus_ipam_releases_total', help: 'Address claims deleted, by reason (vm-deleted, bind-failed, attempt-failed, audit)', labelNames: ['reason'] as const, registers });
    this.rescheduled = new Counter({ name: 'stratus_host_health_rescheduled_vms_total', help: 'VMs unbound from a failed host to be placed elsewhere', registers });
  }
}
