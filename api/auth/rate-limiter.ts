// Token buckets in memory, one per key (a user; for failed logins a credential or a client address),
// per frontend: `rate` tokens per second up to `burst`. At most `maxKeys` buckets (least recent dropped).

import { systemClock, type Clock } from '../../runtime';

export interface RateLimiterOptions {
  /** tokens per second; 0 disables the limiter */
  rate: number;
  /** bucket size */
  burst: number;
  /** at most this many buckets (the least recently used go first); default 100,000 */
  maxKeys?: number;
  clock?: Clock;
}

interface Bucket { tokens: number; at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly clock: Clock;

  constructor(private readonly o: RateLimiterOptions) {
    this.clock = o.clock ?? systemClock;
  }

  get enabled(): boolean {
    return this.o.rate > 0 && this.o.burst > 0;
  }

  /** Takes one token: 0 when allowed, else the seconds to wait before one is available. */
  take(key: string): number {
    if (!this.enabled) return 0;
    const b = this.peek(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.o.rate));
  }

  /** Seconds to wait before `key` has a token, without taking one. */
  wait(key: string): number {
    if (!this.enabled) return 0;
    const b = this.peek(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.o.rate));
  }

  private peek(key: string): Bucket {
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is recency
      b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.rate);
      b.at = now;
    } else {
      b = { tokens: this.o.burst, at: now };
      if (this.buckets.size >= (this.o.maxKeys ?? 100_000)) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, b);
    return b;
  }
}
