// Measured host load for the load-aware policy: the agents push monitoring samples (store/samples.ts:
// CPU used by the host's VMs in cores, and the host's cpus); this runnable reads the newest sample
// of every host every period (MetricsStore.topHosts, a small row per host) and hands
// load = used cores / cpus to the placement cache. Hosts with no
// recent sample have no load (load-aware then falls back to spread for them).

import type { Logger } from 'pino';
import { Periodic, systemClock, type Clock } from '../../runtime';
import type { MetricsStore } from '../../store/samples';

export interface HostLoadSamplerOptions {
  /** the monitoring repository the agents push samples into */
  samples: Pick<MetricsStore, 'topHosts'>;
  /** receives host → load (0..1) after each read */
  onLoads: (loads: Map<string, number>) => void;
  logger: Logger;
  clock?: Clock;
  /** default 15 000 ms */
  periodMs?: number;
  /** samples older than this are ignored; default 120 000 ms */
  maxAgeMs?: number;
}

export class HostLoadSampler {
  readonly name = 'host-load-sampler';
  private readonly clock: Clock;

  private readonly periodic: Periodic;

  constructor(private readonly o: HostLoadSamplerOptions) {
    this.clock = o.clock ?? systemClock;
    this.periodic = new Periodic({
      name: this.name, periodMs: o.periodMs ?? 15_000, first: 'immediate', clock: this.clock, logger: o.logger,
      errorLevel: 'debug', errorMessage: 'reading host load samples failed; load-aware scoring uses allocations',
      run: async () => this.o.onLoads(await this.read()),
    });
  }

  /** Reads at once, then every period. */
  start(signal: AbortSignal): Promise<void> {
    return this.periodic.start(signal);
  }

  async read(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const oldest = this.clock.now() - (this.o.maxAgeMs ?? 120_000);
    for (const h of await this.o.samples.topHosts()) {
      if (h.ts < oldest || !(h.cpus > 0)) continue;
      out.set(h.host, Math.min(1, Math.max(0, h.cpuCores / h.cpus)));
    }
    return out;
  }
}
