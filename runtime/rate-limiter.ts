// Rate limiters of the work queue: per-key exponential backoff and an overall token bucket
// (client-go's ItemExponentialFailureRateLimiter and BucketRateLimiter, combined by max).

import type { Clock } from './clock';

export interface BackoffOptions {
  /** delay of the first retry; default 5 ms */
  baseDelayMs?: number;
  /** cap; default 300 000 ms (5 min) */
  maxDelayMs?: number;
}

/** Per key: base, 2·base, 4·base, ... up to max; forget() starts the key over. */
export class ExponentialBackoff<K> {
  private readonly failures = new Map<K, number>();
  private readonly base: number;
  private readonly max: number;

  constructor(o: BackoffOptions = {}) {
    this.base = o.baseDelayMs ?? 5;
    this.max = o.maxDelayMs ?? 300_000;
  }

  /** The delay before the next retry of `key`; counts one more failure. */
  when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.max, this.base * 2 ** Math.min(n, 62));
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}

export interface TokenBucketOptions {
  /** tokens per second; default 10 */
  qps?: number;
  /** bucket size; default 100 */
  burst?: number;
  clock: Clock;
}

/** Hands out one token per call; returns how long the caller must wait for it (0 when free). */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(o: TokenBucketOptions) {
    this.qps = o.qps ?? 10;
    this.burst = o.burst ?? 100;
    this.clock = o.clock;
    this.tokens = this.burst;
    this.last = o.clock.now();
  }

  /** Reserves a token (possibly in the future) and returns the wait in ms. */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  /** Takes a token if one is there now (client-go's TryAccept); false leaves the bucket as it was. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
      this.last = now;
    }
  }
}
