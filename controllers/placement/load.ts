// Measured host load for the load-aware policy: the agents push monitoring samples (store
// migration 3, table host_samples_latest: CPU used by the host's VMs in cores, and the host's
// cpus); this runnable reads the newest sample of every host every period (one paged read, a
// small row per host) and hands load = used cores / cpus to the placement cache. Hosts with no
// recent sample have no load (load-aware then falls back to spread for them).

import type { Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from '../../runtime';

export interface HostLoadSamplerOptions {
  client: Client;
  keyspace: string;
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

  constructor(private readonly o: HostLoadSamplerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.o.onLoads(await this.read());
      } catch (err) {
        this.o.logger.debug({ err: String(err) }, 'reading host load samples failed; load-aware scoring uses allocations');
      }
      await sleep(this.clock, this.o.periodMs ?? 15_000, signal);
    }
  }

  async read(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const oldest = this.clock.now() - (this.o.maxAgeMs ?? 120_000);
    let pageState: string | undefined;
    do {
      const rs = await this.o.client.execute(`SELECT host, ts, cpus, cpu_cores FROM ${this.o.keyspace}.host_samples_latest`, [], { fetchSize: 1000, pageState, prepare: true });
      for (const r of rs.rows) {
        const ts = r['ts'] instanceof Date ? (r['ts'] as Date).getTime() : 0;
        const cpus = Number(r['cpus'] ?? 0);
        if (ts < oldest || !(cpus > 0)) continue;
        out.set(String(r['host']), Math.min(1, Math.max(0, Number(r['cpu_cores'] ?? 0) / cpus)));
      }
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }
}
