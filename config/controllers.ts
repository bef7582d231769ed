// Settings of stratus-controllers (placement, host health, VM lifecycle, allocation audit), read
// from the environment with documented defaults. Only config/ reads process.env.

import { int, type Env } from './env';
import { hostname } from 'node:os';
import { loadCassandraConfig, type CassandraConfig } from './index';
import { loadEventConfig, type EventConfig } from './events';

export interface ControllerConfig {
  cassandra: CassandraConfig;
  /** STRATUS_LOG_LEVEL: default info */
  logLevel: string;
  /** STRATUS_CONTROLLERS_METRICS: host:port of /metrics and /healthz, default 127.0.0.1:9464; "off" disables */
  metricsHost?: string;
  metricsPort?: number;
  /** STRATUS_CONTROLLER_ID: this replica's name in claims and logs; default <hostname>-<pid> */
  identity: string;
  /** STRATUS_FEED_RETENTION_SEC: default 900 (as the API's) */
  feedRetentionSec: number;
  informer: {
    /** STRATUS_WATCH_POLL_MS: default 250 */
    pollIntervalMs: number;
    /** STRATUS_RESYNC_MS: re-list and re-reconcile everything, default 300000 */
    resyncPeriodMs: number;
  };
  scheduler: {
    /** STRATUS_SCHEDULER_WORKERS: default 16 */
    workers: number;
    /** STRATUS_SCHEDULER_POLICY: pack | spread | load-aware, default spread */
    defaultPolicy: 'pack' | 'spread' | 'load-aware';
    /** STRATUS_SCHEDULER_SAMPLE: feasible hosts scored per decision at most, default 100 */
    sampleSize: number;
    /** STRATUS_SCHEDULER_TOP: pick at random among this many best hosts, default 3 */
    topCandidates: number;
    /** STRATUS_SCHEDULER_UNSCHEDULABLE_RETRY_MS: default 60000 */
    unschedulableRetryMs: number;
  };
  hostHealth: {
    /** STRATUS_LEASE_MS: heartbeat age after which a host is NotReady, default 25000 (agents heartbeat every 10 s) */
    leaseDurationMs: number;
    /** STRATUS_FENCE_MS: the agents' T_fence, default 30000 */
    fenceMs: number;
    /** STRATUS_RESCHEDULE_MS: T_resched (> T_fence), default 60000 */
    rescheduleMs: number;
  };
  audit: {
    /** STRATUS_AUDIT_PERIOD_MS: default 60000 */
    periodMs: number;
    /** STRATUS_CLAIM_GRACE_MS: default 30000 */
    claimGraceMs: number;
  };
  /** the Events the controllers record (STRATUS_EVENT_*: config/events.ts) */
  events: EventConfig;
}


export function loadControllerConfig(env: Env = process.env): ControllerConfig {
  const metrics = env['STRATUS_CONTROLLERS_METRICS'] ?? '127.0.0.1:9464';
  let metricsHost: string | undefined;
  let metricsPort: number | undefined;
  if (metrics !== 'off') {
    const i = metrics.lastIndexOf(':');
    metricsPort = Number(metrics.slice(i + 1));
    if (i < 0 || !Number.isInteger(metricsPort)) throw new Error(`STRATUS_CONTROLLERS_METRICS must be host:port or off, got "${metrics}"`);
    metricsHost = metrics.slice(0, i);
  }
  const policy = env['STRATUS_SCHEDULER_POLICY'] ?? 'spread';
  if (policy !== 'pack' && policy !== 'spread' && policy !== 'load-aware') {
    throw new Error(`STRATUS_SCHEDULER_POLICY must be pack, spread or load-aware, got "${policy}"`);
  }
  const cfg: ControllerConfig = {
    cassandra: loadCassandraConfig(env),
    logLevel: env['STRATUS_LOG_LEVEL'] ?? 'info',
    metricsHost, metricsPort,
    identity: env['STRATUS_CONTROLLER_ID'] || `${hostname()}-${process.pid}`,
    feedRetentionSec: int(env, 'STRATUS_FEED_RETENTION_SEC', 900),
    informer: { pollIntervalMs: int(env, 'STRATUS_WATCH_POLL_MS', 250), resyncPeriodMs: int(env, 'STRATUS_RESYNC_MS', 300_000) },
    scheduler: {
      workers: int(env, 'STRATUS_SCHEDULER_WORKERS', 16), defaultPolicy: policy,
      sampleSize: int(env, 'STRATUS_SCHEDULER_SAMPLE', 100), topCandidates: int(env, 'STRATUS_SCHEDULER_TOP', 3),
      unschedulableRetryMs: int(env, 'STRATUS_SCHEDULER_UNSCHEDULABLE_RETRY_MS', 60_000),
    },
    hostHealth: {
      leaseDurationMs: int(env, 'STRATUS_LEASE_MS', 25_000), fenceMs: int(env, 'STRATUS_FENCE_MS', 30_000),
      rescheduleMs: int(env, 'STRATUS_RESCHEDULE_MS', 60_000),
    },
    audit: { periodMs: int(env, 'STRATUS_AUDIT_PERIOD_MS', 60_000), claimGraceMs: int(env, 'STRATUS_CLAIM_GRACE_MS', 30_000) },
    events: loadEventConfig(env),
  };
  if (cfg.hostHealth.rescheduleMs <= cfg.hostHealth.fenceMs) {
    throw new Error(`STRATUS_RESCHEDULE_MS (${cfg.hostHealth.rescheduleMs}) must be longer than STRATUS_FENCE_MS (${cfg.hostHealth.fenceMs})`);
  }
  return cfg;
}
