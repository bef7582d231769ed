/**
 * LeaseKeeper: holds this host's lease and decides fencing. It acquires the lease before the
 * agent runs any VM, renews it every renewIntervalMs, and fences when the host could not prove
 * it is alive for fenceAfterMs (T_fence): "alive" needs BOTH a lease renewal and a heartbeat
 * written to the Host object (what the host-health controller reads), so whichever the
 * controller trusts, the agent has stopped its VMs before the controller reschedules them
 * (T_resched > T_fence). Fenced, the agent stops its domains and starts none; when both
 * signals succeed again it resumes. Time comes from an injectable clock.
 */
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from '../../runtime';
import type { LeaseRepository } from '../../store/leases';

/** What LeaseKeeper needs from storage (store/leases.ts; tests may wrap it to simulate failures). */
export type LeaseBackend = Pick<LeaseRepository, 'acquire' | 'renew'>;

export type LeaseState = 'acquiring' | 'held' | 'fenced';

export interface LeaseKeeperOptions {
  host: string;
  /** identity of this agent process (or of this machine: a restarted agent keeps its lease) */
  holder: string;
  backend: LeaseBackend;
  logger?: Logger;
  clock?: Clock;
  /** default 5000 ms */
  renewIntervalMs?: number;
  /** T_fence; default 30 000 ms */
  fenceAfterMs?: number;
  /** a renewal not answered within this counts as failed; default renewIntervalMs */
  callTimeoutMs?: number;
  /** stop the domains (must not need Cassandra) */
  onFence?: () => Promise<void> | void;
  /** the lease is back: reconcile everything */
  onResume?: () => void;
}

function withTimeout<T>(p: Promise<T>, clock: Clock, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const h = clock.setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clock.clearTimeout(h);
        resolve(v);
      },
      (e) => {
        clock.clearTimeout(h);
        reject(e);
      },
    );
  });
}

export class LeaseKeeper {
  private readonly clock: Clock;
  private readonly renewMs: number;
  private readonly fenceMs: number;
  private readonly timeoutMs: number;
  private stateValue: LeaseState = 'acquiring';
  /** when the last successful renewal (or acquisition) was sent */
  private leaseOkAt = -Infinity;
  /** when the last successful Host heartbeat write was sent */
  private heartbeatOkAt = -Infinity;
  private heldWaiters: (() => void)[] = [];
  fences = 0;
  resumes = 0;
  private heldSinceAt = Infinity;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.clock = o.clock ?? systemClock;
    this.renewMs = o.renewIntervalMs ?? 5000;
    this.fenceMs = o.fenceAfterMs ?? 30_000;
    this.timeoutMs = o.callTimeoutMs ?? this.renewMs;
  }

  get state(): LeaseState {
    return this.stateValue;
  }

  /** True while the agent must not run VMs (lease not held, or lost for T_fence). */
  fenced(): boolean {
    return this.stateValue !== 'held';
  }

  /** When the lease was last acquired or got back after a fence (Infinity: not held). */
  heldSince(): number {
    return this.stateValue === 'held' ? this.heldSinceAt : Infinity;
  }

  /** When the host last proved it is alive (the older of the two signals), ms. */
  lastAliveAt(): number {
    return Math.min(this.leaseOkAt, this.heartbeatOkAt);
  }

  /** The Host heartbeat sent at `sentAt` was written. */
  heartbeatOk(sentAt: number): void {
    if (sentAt > this.heartbeatOkAt) this.heartbeatOkAt = sentAt;
  }

  /** Resolves once the lease is held for the first time (false if `signal` aborts first). */
  waitHeld(signal: AbortSignal): Promise<boolean> {
    if (this.stateValue === 'held') return Promise.resolve(true);
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      signal.addEventListener('abort', () => resolve(false), { once: true });
      this.heldWaiters.push(() => resolve(true));
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    let holderWarned = '';
    while (!signal.aborted) {
      const sentAt = this.clock.now();
      try {
        if (this.stateValue === 'acquiring' || !(await withTimeout(this.o.backend.renew(this.o.host, this.o.holder, sentAt), this.clock, this.timeoutMs))) {
          const r = await withTimeout(this.o.backend.acquire(this.o.host, this.o.holder, sentAt, this.fenceMs), this.clock, this.timeoutMs);
          if (r.ok) {
            this.leaseOkAt = sentAt;
            holderWarned = '';
          } else if (holderWarned !== r.current.holder) {
            holderWarned = r.current.holder;
            log?.warn({ holder: r.current.holder }, 'the host lease is held by another agent; waiting for it to expire');
          }
        } else {
          this.leaseOkAt = sentAt;
        }
      } catch (err) {
        log?.warn({ err: String(err) }, 'renewing the host lease failed');
      }
      await this.evaluate();
      // Sleep until the next renewal, or until the fence deadline if that comes first.
      const now = this.clock.now();
      const untilFence = this.stateValue === 'held' ? this.lastAliveAt() + this.fenceMs - now : Infinity;
      const wait = Math.max(0, Math.min(this.renewMs, untilFence));
      await this.nap(wait, signal);
      if (this.stateValue === 'held' && this.clock.now() - this.lastAliveAt() >= this.fenceMs) await this.evaluate();
    }
  }

  private nap(ms: number, signal: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    return sleep(this.clock, ms, ac.signal).finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Applies the fencing rule to the current signals (exposed for tests). */
  async evaluate(): Promise<void> {
    const now = this.clock.now();
    const leaseFresh = now - this.leaseOkAt < this.fenceMs;
    const alive = now - this.lastAliveAt() < this.fenceMs;
    const log = this.o.logger;
    if (this.stateValue === 'acquiring') {
      // First acquisition: the agent has not run anything yet, the heartbeat starts now.
      if (leaseFresh) {
        if (this.heartbeatOkAt === -Infinity) this.heartbeatOkAt = this.leaseOkAt;
        this.stateValue = 'held';
        this.heldSinceAt = now;
        log?.info('host lease acquired');
        for (const w of this.heldWaiters.splice(0)) w();
      }
      return;
    }
    if (this.stateValue === 'held' && !alive) {
      this.stateValue = 'fenced';
      this.fences++;
      log?.error({ lastAliveAt: new Date(this.lastAliveAt()).toISOString(), fenceAfterMs: this.fenceMs }, 'lease lost for T_fence: fencing (stopping every domain)');
      try {
        await this.o.onFence?.();
      } catch (err) {
        log?.error({ err: String(err) }, 'fencing failed to stop some domains');
      }
    } else if (this.stateValue === 'fenced' && alive) {
      this.stateValue = 'held';
      this.heldSinceAt = now;
      this.resumes++;
      log?.warn('host lease renewed: resuming');
      this.o.onResume?.();
    }
  }
}
