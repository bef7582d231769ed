// resourceVersions are timeuuids of the write that produced them: unique, ordered by time, and
// valid watch cursors (see DESIGN.md "resourceVersion is a feed position"). Reading them is pure;
// making them (store/rv.ts) needs the driver's TimeUuid.

/** 100 ns intervals between the UUID epoch (1582-10-15) and the Unix epoch. */
export const UUID_EPOCH_OFFSET = 0x01b21dd213814000n;
const TIMEUUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isTimeUuid(s: string): boolean {
  return TIMEUUID_RE.test(s);
}

/** Unix time of a timeuuid in 100 ns ticks. */
export function rvTicks(rv: string): bigint {
  const hex = rv.replace(/-/g, '');
  const low = BigInt('0x' + hex.slice(0, 8));
  const mid = BigInt('0x' + hex.slice(8, 12));
  const hi = BigInt('0x' + hex.slice(12, 16)) & 0x0fffn;
  return ((hi << 48n) | (mid << 32n) | low) - UUID_EPOCH_OFFSET;
}

export function rvMillis(rv: string): number {
  return Number(rvTicks(rv) / 10000n);
}

/** Microseconds since the Unix epoch: used as a Cassandra write timestamp. */
export function rvMicros(rv: string): bigint {
  return rvTicks(rv) / 10n;
}

/** Orders two timeuuids by time, then by their text (so distinct uuids never compare equal). */
export function compareRv(a: string, b: string): number {
  const ta = rvTicks(a);
  const tb = rvTicks(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

