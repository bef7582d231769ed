// Prometheus metrics of one frontend, on its own registry (no global state).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'stratus_apiserver_requests_total', help: 'API requests by verb, resource and HTTP code',
    labelNames: ['verb', 'resource', 'code'] as const, registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'stratus_apiserver_request_duration_seconds', help: 'API request latency (watches excluded)',
    labelNames: ['verb', 'resource'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly watches = new Gauge({ name: 'stratus_apiserver_watches', help: 'Open watch streams', registers: [this.registry] });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
