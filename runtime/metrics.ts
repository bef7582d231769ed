// Prometheus metrics of the controller runtime, on a registry the caller passes in (no globals).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class ControllerMetrics {
  readonly reconciles: Counter<'controller' | 'result'>;
  readonly duration: Histogram<'controller'>;
  readonly depth: Gauge<'controller'>;
  readonly inFlight: Gauge<'controller'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.reconciles = new Counter({
      name: 'stratus_controller_reconcile_total',
      help: 'Reconciles by controller and result (success, requeue, error, conflict, terminal)',
      labelNames: ['controller', 'result'] as const, registers,
    });
    this.duration = new Histogram({
      name: 'stratus_controller_reconcile_duration_seconds', help: 'Reconcile latency by controller',
      labelNames: ['controller'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers,
    });
    this.depth = new Gauge({ name: 'stratus_controller_queue_depth', help: 'Keys waiting in the work queue', labelNames: ['controller'] as const, registers });
    this.inFlight = new Gauge({ name: 'stratus_controller_in_flight', help: 'Keys being reconciled', labelNames: ['controller'] as const, registers });
  }
}
