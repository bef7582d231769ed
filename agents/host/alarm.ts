/**
 * Alarm: a sleep that another part of the agent can cut short. A loop naps between rounds;
 * wake() ends the current nap at once (or the next one, if none is in progress), so e.g. a lost
 * libvirt connection is probed, or a changed condition written, without waiting for the period.
 */
import { sleep, type Clock } from '../../runtime';

export class Alarm {
  private rung = false;
  private interrupt: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  /** Ends the nap in progress, or makes the next one return at once. */
  wake(): void {
    this.rung = true;
    this.interrupt?.();
  }

  /** Waits `ms`, until `signal` aborts, or until wake(); never rejects. */
  async nap(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.rung) {
      const ac = new AbortController();
      const onAbort = () => ac.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.interrupt = () => ac.abort();
      try {
        await sleep(this.clock, ms, ac.signal);
      } finally {
        signal.removeEventListener('abort', onAbort);
        this.interrupt = undefined;
      }
    }
    this.rung = false;
  }
}
