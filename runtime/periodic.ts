// The Periodic runnable: runs one job every period on the injected Clock, with jitter drawn from an
// injected random source; a failed run is logged and the next period retries. Every hand-written
// "sleep, do, repeat" loop of the processes (audits, samplers, sweeps, monitors) is one of these.

import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from './clock';
import type { Runnable } from './runnable';

export interface PeriodicOptions {
  name: string;
  /** the job; a rejection is logged and the next period retries */
  run: (signal: AbortSignal) => Promise<unknown> | void;
  periodMs: number;
  /** each wait is periodMs × [1 − jitter, 1 + jitter); default 0 */
  jitter?: number;
  /**
   * when the first run happens: 'immediate'; 'period' (after one jittered period, the default); or
   * after [min, max) × periodMs drawn at random (spreads processes or hosts started together)
   */
  first?: 'immediate' | 'period' | { min: number; max: number };
  /**
   * 'delay' (default): the period counts from the end of a run; 'rate': from its start (a run that
   * took longer than the period is followed at once by the next)
   */
  schedule?: 'delay' | 'rate';
  clock?: Clock;
  /** random source in [0, 1); default Math.random */
  random?: () => number;
  logger?: Logger;
  /** level and message of a failed run; default warn, '<name> failed; next period retries' */
  errorLevel?: 'debug' | 'info' | 'warn' | 'error';
  errorMessage?: string;
}

export class Periodic implements Runnable {
  readonly name: string;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly o: PeriodicOptions) {
    this.name = o.name;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
  }

  /** The wait before the first run, in ms. */
  private firstDelay(): number {
    const f = this.o.first ?? 'period';
    if (f === 'immediate') return 0;
    if (f === 'period') return this.jittered();
    return this.o.periodMs * (f.min + (f.max - f.min) * this.random());
  }

  private jittered(): number {
    const j = this.o.jitter ?? 0;
    return j > 0 ? this.o.periodMs * (1 - j + 2 * j * this.random()) : this.o.periodMs;
  }

  /** Runs the job once, logging a failure (never rejects). */
  private async once(signal: AbortSignal): Promise<void> {
    try {
      await this.o.run(signal);
    } catch (err) {
      this.o.logger?.[this.o.errorLevel ?? 'warn']({ job: this.name, err: String(err) }, this.o.errorMessage ?? `${this.name} failed; next period retries`);
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    const first = this.firstDelay();
    if (first > 0) await sleep(this.clock, first, signal);
    while (!signal.aborted) {
      const t0 = this.clock.now();
      await this.once(signal);
      if (signal.aborted) return;
      const wait = this.jittered();
      await sleep(this.clock, this.o.schedule === 'rate' ? Math.max(0, wait - (this.clock.now() - t0)) : wait, signal);
    }
  }
}
