// Settings of stratus-controllers (placement, host health, VM lifecycle, allocation audit), read
// from the environment with documented defaults. Only config/ reads process.env.

import { int, type Env } from './env';
import { hostname } from 'node:os';
import { loadCassandraConfig, type CassandraConfig } from './index';
import { loadEventConfig, type EventConfig } from './events';
import { FAILOVER_DEFAULTS, heartbeatAckBoundMs, minRescheduleMs } from './failover';

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
  /**
   * Failover (config/failover.ts). Safe only if T_resched ≥ T_fence·(1 + skew) + max(stop
   * allowance, heartbeat ack bound): loading refuses anything shorter.
   */
  hostHealth: {
    /** STRATUS_LEASE_MS: heartbeat age (as this process saw it) after which a host is NotReady, default 8000 (agents heartbeat every 3 s) */
    leaseDurationMs: number;
    /** STRATUS_FENCE_MS: the agents' T_fence, default 10000 (a host that publishes a longer one in status.fenceAfterMs gets the longer one) */
    fenceMs: number;
    /** STRATUS_RESCHEDULE_MS: T_resched, heartbeat age after which a host's VMs are rescheduled, default 16000 */
    rescheduleMs: number;
    /** STRATUS_CLOCK_SKEW_PERCENT: assumed bound on the clock RATE skew between agent and controller machines, default 1 */
    clockSkewPercent: number;
    /** STRATUS_FENCE_STOP_ALLOWANCE_MS: time allowed to stop the domains plus the agent's fence lateness, default 5000 */
    stopAllowanceMs: number;
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
      leaseDurationMs: int(env, 'STRATUS_LEASE_MS', FAILOVER_DEFAULTS.leaseDurationMs),
      fenceMs: int(env, 'STRATUS_FENCE_MS', FAILOVER_DEFAULTS.fenceMs),
      rescheduleMs: int(env, 'STRATUS_RESCHEDULE_MS', FAILOVER_DEFAULTS.rescheduleMs),
      clockSkewPercent: int(env, 'STRATUS_CLOCK_SKEW_PERCENT', FAILOVER_DEFAULTS.clockSkewPercent),
      stopAllowanceMs: int(env, 'STRATUS_FENCE_STOP_ALLOWANCE_MS', FAILOVER_DEFAULTS.stopAllowanceMs),
    },
    audit: { periodMs: int(env, 'STRATUS_AUDIT_PERIOD_MS', 60_000), claimGraceMs: int(env, 'STRATUS_CLAIM_GRACE_MS', 30_000) },
    events: loadEventConfig(env),
  };
  checkFailoverTimings(cfg.hostHealth);
  return cfg;
}

/**
 * Refuses failover timings that could run a VM on two hosts at once (T_resched too close to
 * T_fence), or that make no sense (NotReady after T_resched), naming the variables.
 */
export function checkFailoverTimings(h: ControllerConfig['hostHealth']): void {
  const { fenceMs, rescheduleMs, clockSkewPercent: skew, stopAllowanceMs: allowance } = h;
  if (fenceMs < 1) throw new Error(`STRATUS_FENCE_MS must be at least 1, got ${fenceMs}`);
  if (skew > 50) throw new Error(`STRATUS_CLOCK_SKEW_PERCENT must be at most 50, got ${skew}`);
  const min = minRescheduleMs(fenceMs, skew, allowance);
  if (rescheduleMs < min) {
    throw new Error(
      `STRATUS_RESCHEDULE_MS (${rescheduleMs}) is too short for STRATUS_FENCE_MS (${fenceMs}): T_resched must be at least ` +
      `T_fence x (1 + ${skew}% clock skew) + max(STRATUS_FENCE_STOP_ALLOWANCE_MS ${allowance}, heartbeat ack bound ${heartbeatAckBoundMs(fenceMs)}) = ${min} ms, ` +
      'or an agent could still run a VM its replacement already runs',
    );
  }
  if (h.leaseDurationMs > rescheduleMs) throw new Error(`STRATUS_LEASE_MS (${h.leaseDurationMs}) must not exceed STRATUS_RESCHEDULE_MS (${rescheduleMs})`);
}
