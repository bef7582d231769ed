/**
 * LeaseKeeper: holds this host's lease and decides fencing. It acquires the lease before the
 * agent runs any VM, renews it every renewIntervalMs, and fences when the host could not prove
 * it is alive for fenceAfterMs (T_fence): "alive" needs BOTH a lease renewal and a heartbeat
 * written to the Host object (what the host-health controller reads). Fenced, the agent stops its
 * domains and starts none; when both signals succeed again it resumes.
 *
 * The safety argument (why a VM never runs on two hosts; controllers/host-health.ts states the
 * controller's half):
 * - The agent fences at lastAliveAt + T_fence, where lastAliveAt is the SEND time of its last
 *   successful renewal and of its last successful heartbeat (the older of the two), measured on
 *   this process's MONOTONIC clock (performance.now: wall-clock steps change nothing).
 * - A heartbeat counts only if it was acknowledged within heartbeatAckMs of being sent (a
 *   renewal within callTimeoutMs). So a heartbeat the agent counts cannot commit after a
 *   controller's final read unless it was sent less than heartbeatAckMs before that read, which
 *   the margin below covers (T_resched ≥ T_fence + heartbeatAckMs).
 * - The controller reschedules at (when IT saw that heartbeat, which is after it was sent) +
 *   T_resched, on its own monotonic clock. T_resched − T_fence must cover: the time to stop the
 *   domains, the lateness of this process (event-loop stalls, GC, a SIGSTOP), the heartbeat
 *   acknowledgement bound and the clock RATE skew between the two machines (assumed ≤ 1 %,
 *   generous for quartz/NTP-slewed clocks). config/controllers.ts refuses settings that do not.
 * - Fencing does not depend on a timer firing on time: fenced() checks the deadline
 *   SYNCHRONOUSLY whenever anything asks (VM reconciles before acting, /debug/domains before
 *   listing), and a watchdog re-checks every watchdogMs. A process frozen past its deadline
 *   (SIGSTOP) that resumes turns fenced in the first callback that runs and starts stopping its
 *   domains before anything could start one or report it; fenceSettled() lets readers wait for it.
 */
import type { Logger } from 'pino';
import { sleep, systemClock, type Clock } from '../../runtime';
import type { LeaseRepository } from '../../store/leases';
import { FAILOVER_DEFAULTS, heartbeatAckBoundMs } from '../../config/failover';

/** What LeaseKeeper needs from storage (store/leases.ts; tests may wrap it to simulate failures). */
export type LeaseBackend = Pick<LeaseRepository, 'acquire' | 'renew'>;

export type LeaseState = 'acquiring' | 'held' | 'fenced';

export interface LeaseKeeperOptions {
  host: string;
  /** identity of this agent process (or of this machine: a restarted agent keeps its lease) */
  holder: string;
  backend: LeaseBackend;
  logger?: Logger;
  /** wall time for the lease rows; with no `monotonic`, also the time fencing is measured on */
  clock?: Clock;
  /**
   * The clock T_fence is measured on; default performance.now() when no `clock` is given (the
   * real process), else `clock.now` (tests with a FakeClock).
   */
  monotonic?: () => number;
  /** default 2000 ms */
  renewIntervalMs?: number;
  /** T_fence; default 10 000 ms */
  fenceAfterMs?: number;
  /** a renewal not answered within this counts as failed; default renewIntervalMs */
  callTimeoutMs?: number;
  /** a heartbeat acknowledged later than this after it was sent does not count; default min(5000, T_fence / 2) */
  heartbeatAckMs?: number;
  /** how often the watchdog checks the fence deadline; default min(250, T_fence / 10) */
  watchdogMs?: number;
  /** stop the domains (must not need Cassandra) */
  onFence?: () => Promise<void> | void;
  /** the lease is back: reconcile everything */
  onResume?: () => void;
  /** after each renewal while held: how long the agent is alive for at most (the qemu fence guard's deadline) */
  onAliveFor?: (ms: number) => void;
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
  private readonly mono: () => number;
  private readonly renewMs: number;
  readonly fenceAfterMs: number;
  private readonly timeoutMs: number;
  private readonly ackMs: number;
  private readonly watchdogMs: number;
  private stateValue: LeaseState = 'acquiring';
  /** when the last successful renewal (or acquisition) was sent (monotonic) */
  private leaseOkAt = -Infinity;
  /** when the last successful Host heartbeat write was sent (monotonic) */
  private heartbeatOkAt = -Infinity;
  private heldWaiters: (() => void)[] = [];
  /** the fence in progress (or the last one), so readers can wait for the domains to be stopped */
  private fencing: Promise<void> = Promise.resolve();
  fences = 0;
  resumes = 0;
  private heldSinceAt = Infinity;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.clock = o.clock ?? systemClock;
    this.mono = o.monotonic ?? (o.clock ? () => this.clock.now() : () => performance.now());
    this.renewMs = o.renewIntervalMs ?? FAILOVER_DEFAULTS.renewIntervalMs;
    this.fenceAfterMs = o.fenceAfterMs ?? FAILOVER_DEFAULTS.fenceMs;
    this.timeoutMs = o.callTimeoutMs ?? this.renewMs;
    this.ackMs = o.heartbeatAckMs ?? heartbeatAckBoundMs(this.fenceAfterMs);
    this.watchdogMs = o.watchdogMs ?? Math.max(1, Math.min(250, Math.floor(this.fenceAfterMs / 10)));
  }

  get state(): LeaseState {
    this.checkDeadline();
    return this.stateValue;
  }

  /**
   * True while the agent must not run VMs (lease not held, or lost for T_fence). Checks the
   * deadline first, synchronously: the answer is right even if no timer has run since.
   */
  fenced(): boolean {
    this.checkDeadline();
    return this.stateValue !== 'held';
  }

  /** Resolves once the fence in progress (if any) has stopped the domains. */
  fenceSettled(): Promise<void> {
    this.checkDeadline();
    return this.fencing;
  }

  /** When the lease was last acquired or got back after a fence (WALL time, as the caches' freshSince; Infinity: not held). */
  heldSince(): number {
    return this.stateValue === 'held' ? this.heldSinceAt : Infinity;
  }

  /** Now, on the clock fencing is measured on: the send time to give heartbeatOk(). */
  stamp(): number {
    return this.mono();
  }

  /** When the host last proved it is alive (the older of the two signals), monotonic ms. */
  lastAliveAt(): number {
    return Math.min(this.leaseOkAt, this.heartbeatOkAt);
  }

  /**
   * The Host heartbeat sent at `sentAt` (a stamp()) was written. Acknowledged later than
   * heartbeatAckMs after sending, it does not count (see the safety argument above).
   */
  heartbeatOk(sentAt: number): void {
    const took = this.mono() - sentAt;
    if (took > this.ackMs) {
      this.o.logger?.warn({ tookMs: Math.round(took), heartbeatAckMs: this.ackMs }, 'a heartbeat was acknowledged too late to count for the lease');
      return;
    }
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
    const watchdog = this.watchdog(signal);
    try {
      await this.renewLoop(signal);
    } finally {
      await watchdog;
    }
  }

  /** Re-checks the deadline every watchdogMs (fenced() also checks whenever it is asked). */
  private async watchdog(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.nap(this.watchdogMs, signal);
      this.checkDeadline();
    }
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    const log = this.o.logger;
    let holderWarned = '';
    while (!signal.aborted) {
      const sentAt = this.mono();
      const wallAt = this.clock.now();
      try {
        if (this.stateValue === 'acquiring' || !(await withTimeout(this.o.backend.renew(this.o.host, this.o.holder, wallAt), this.clock, this.timeoutMs))) {
          const r = await withTimeout(this.o.backend.acquire(this.o.host, this.o.holder, wallAt, this.fenceAfterMs), this.clock, this.timeoutMs);
          if (r.ok) {
            this.leaseOkAt = Math.max(this.leaseOkAt, sentAt);
            holderWarned = '';
          } else if (holderWarned !== r.current.holder) {
            holderWarned = r.current.holder;
            log?.warn({ holder: r.current.holder }, 'the host lease is held by another agent; waiting for it to expire');
          }
        } else {
          this.leaseOkAt = Math.max(this.leaseOkAt, sentAt);
        }
      } catch (err) {
        log?.warn({ err: String(err) }, 'renewing the host lease failed');
      }
      await this.evaluate();
      // Sleep until the next renewal, or until the fence deadline if that comes first.
      const untilFence = this.stateValue === 'held' ? this.lastAliveAt() + this.fenceAfterMs - this.mono() : Infinity;
      if (untilFence !== Infinity) this.o.onAliveFor?.(untilFence);
      await this.nap(Math.max(0, Math.min(this.renewMs, untilFence)), signal);
      this.checkDeadline();
    }
  }

  private nap(ms: number, signal: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    return sleep(this.clock, ms, ac.signal).finally(() => signal.removeEventListener('abort', onAbort));
  }

  /**
   * Held, and T_fence passed since the host last proved it is alive: fenced NOW (synchronously),
   * and the domains are being stopped (this.fencing). True if it fenced.
   */
  private checkDeadline(): boolean {
    if (this.stateValue !== 'held' || this.mono() - this.lastAliveAt() < this.fenceAfterMs) return false;
    this.stateValue = 'fenced';
    this.fences++;
    const log = this.o.logger;
    log?.error({ sinceAliveMs: Math.round(this.mono() - this.lastAliveAt()), fenceAfterMs: this.fenceAfterMs }, 'lease lost for T_fence: fencing (stopping every domain)');
    // onFence is called now, synchronously (its libvirt calls are queued before anything else can
    // queue a start); a previous fence has settled already, since resuming waits for it.
    this.fencing = (async () => {
      try {
        await this.o.onFence?.();
      } catch (err) {
        log?.error({ err: String(err) }, 'fencing failed to stop some domains');
      }
    })();
    return true;
  }

  /** Applies the fencing rule to the current signals (exposed for tests). */
  async evaluate(): Promise<void> {
    const now = this.mono();
    const leaseFresh = now - this.leaseOkAt < this.fenceAfterMs;
    const alive = now - this.lastAliveAt() < this.fenceAfterMs;
    const log = this.o.logger;
    if (this.stateValue === 'acquiring') {
      // First acquisition: the agent has not run anything yet, the heartbeat starts now.
      if (leaseFresh) {
        if (this.heartbeatOkAt === -Infinity) this.heartbeatOkAt = this.leaseOkAt;
        this.stateValue = 'held';
        this.heldSinceAt = this.clock.now();
        log?.info('host lease acquired');
        for (const w of this.heldWaiters.splice(0)) w();
      }
      return;
    }
    if (this.checkDeadline()) {
      await this.fencing;
    } else if (this.stateValue === 'fenced' && alive) {
      // Only once the domains are stopped: a resume must not race the fence that preceded it.
      await this.fencing;
      if (this.stateValue !== 'fenced' || this.mono() - this.lastAliveAt() >= this.fenceAfterMs) return;
      this.stateValue = 'held';
      this.heldSinceAt = this.clock.now();
      this.resumes++;
      log?.warn('host lease renewed: resuming');
      this.o.onResume?.();
    }
  }
}
