// The failover timings the agents and the controllers must agree on, and the rule that keeps a VM
// from running on two hosts at once (agents/host/lease.ts and controllers/host-health.ts state the
// whole argument). Defaults: an agent killed or frozen has its VMs running elsewhere within about
// T_resched + placement and start ≈ 17–20 s, under the 30 s goal (margin T_resched − T_fence = 6 s ≥ the 5.1 s the rule needs).

/** Defaults, in ms, and the assumed clock rate skew between two machines (a fraction). */
export const FAILOVER_DEFAULTS = {
  /** the agent renews its lease this often (4 tries per T_fence) */
  renewIntervalMs: 2000,
  /** the agent writes Host status.heartbeatTime this often (3 per T_fence) */
  heartbeatIntervalMs: 3000,
  /** T_fence: the agent stops its domains when it could not prove it is alive for this long */
  fenceMs: 10_000,
  /** a heartbeat older than this (as the controller saw it) makes the host NotReady: 2 missed beats + 2 s */
  leaseDurationMs: 8000,
  /** T_resched: the controllers reschedule a silent host's VMs after this */
  rescheduleMs: 16_000,
  /** clock RATE skew between agent and controller, ≤ 1 %: generous (quartz drifts ~0.005 %, NTP slews ≤ 0.05 %) */
  clockSkewPercent: 1,
  /**
   * What the margin T_resched − T_fence·(1 + skew) must cover besides the skew: stopping the
   * domains (libvirt destroy, in parallel: well under a second each) and the lateness of the
   * agent's fence (event-loop stalls, GC); at least the heartbeat acknowledgement bound.
   */
  stopAllowanceMs: 5000,
} as const;

/**
 * A heartbeat acknowledged later than this after it was sent does not keep the agent alive:
 * min(5 s, T_fence / 2). The margin must cover it too (agents/host/lease.ts says why).
 */
export function heartbeatAckBoundMs(fenceMs: number): number {
  return Math.min(5000, Math.floor(fenceMs / 2));
}

/** The smallest safe T_resched for an agent T_fence: T_fence·(1 + skew) + max(stop allowance, heartbeat ack bound). */
export function minRescheduleMs(fenceMs: number, skewPercent: number, stopAllowanceMs: number): number {
  return Math.ceil((fenceMs * (100 + skewPercent)) / 100) + Math.max(stopAllowanceMs, heartbeatAckBoundMs(fenceMs));
}
