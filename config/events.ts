// Settings of the event recorders of stratus-controllers and stratus-agent (core/v1 Events), read
// from the environment with documented defaults. Only config/ reads process.env.

import { int, type Env } from './env';

export interface EventConfig {
  /** STRATUS_EVENT_TTL_SEC: how long an Event lives after it was last seen, default 3600 (Kubernetes' --event-ttl) */
  ttlSec: number;
  /** STRATUS_EVENT_BURST: events per reporter and object before the rate limit, default 25 (client-go's) */
  burst: number;
  /** STRATUS_EVENT_REFILL_MS: one more event per reporter and object every this many ms, default 300000 (client-go's) */
  refillMs: number;
  /** STRATUS_EVENT_QUEUE: events waiting to be written at most, default 1000; past it they are dropped and counted */
  queueSize: number;
}

export function loadEventConfig(env: Env = process.env): EventConfig {
  const ttlSec = int(env, 'STRATUS_EVENT_TTL_SEC', 3600);
  if (ttlSec < 1) throw new Error('STRATUS_EVENT_TTL_SEC must be at least 1');
  return {
    ttlSec,
    burst: Math.max(1, int(env, 'STRATUS_EVENT_BURST', 25)),
    refillMs: Math.max(1, int(env, 'STRATUS_EVENT_REFILL_MS', 300_000)),
    queueSize: Math.max(1, int(env, 'STRATUS_EVENT_QUEUE', 1000)),
  };
}
