// Timestamps as Kubernetes writes them (creationTimestamp, lastTransitionTime, startTime):
// RFC 3339 in UTC with whole seconds, e.g. 2024-05-01T12:00:00Z.

/** `ms` (Unix epoch milliseconds) as an RFC 3339 UTC time truncated to the second. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
