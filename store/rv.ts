// resourceVersions are timeuuids of the write that produced them: unique, ordered by time, and
// valid watch cursors (see DESIGN.md "resourceVersion is a feed position").

import { randomBytes } from 'node:crypto';
import { types } from 'cassandra-driver';
import { UUID_EPOCH_OFFSET, rvTicks } from '../kube/rv';
import { systemClock, type Clock } from '../runtime/clock';

export { compareRv, isTimeUuid, rvMicros, rvMillis, rvTicks } from '../kube/rv';

export function timeUuidFromTicks(ticks: bigint): types.TimeUuid {
  return types.TimeUuid.fromString(timeUuidString(ticks, PROCESS_NODE));
}

/** A random clock sequence and node id for this process, as RFC 4122 suggests for v1 UUIDs. */
const PROCESS_NODE = (() => {
  const b = randomBytes(8);
  b[0] = (b[0] & 0x3f) | 0x80; // variant 10xx
  b[2] |= 0x01; // multicast bit: a random node id, not a MAC address
  const hex = b.toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4, 16)}`;
})();

/** The text of a version-1 UUID at `ticks` (Unix 100 ns) with the given clock sequence and node. */
function timeUuidString(ticks: bigint, clockAndNode: string): string {
  const t = ticks + UUID_EPOCH_OFFSET;
  const low = (t & 0xffffffffn).toString(16).padStart(8, '0');
  const mid = ((t >> 32n) & 0xffffn).toString(16).padStart(4, '0');
  const hi = (((t >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
  return `${low}-${mid}-${hi}-${clockAndNode}`;
}

/** The smallest timeuuid at a given Unix time in ticks (a cursor "just before" that instant). */
export function minTimeUuidAtTicks(ticks: bigint): string {
  // The smallest clock sequence and node in Cassandra's timeuuid order (signed bytes).
  return timeUuidString(ticks, '8080-808080808080');
}

/**
 * Issues strictly increasing timeuuids in this process, never earlier than a given floor
 * (the previous resourceVersion of the object being written), whatever the wall clock does.
 */
export class RvClock {
  private last = 0n;
  constructor(private readonly clock: Clock = systemClock) {}

  next(after?: string): string {
    // Whole microseconds, so successive versions of an object also have distinct write timestamps.
    let t = BigInt(Math.floor(this.clock.now())) * 10000n;
    if (t <= this.last) t = this.last + 10n;
    if (after) {
      const floor = rvTicks(after) - (rvTicks(after) % 10n);
      if (t <= floor) t = floor + 10n;
    }
    this.last = t;
    return timeUuidString(t, PROCESS_NODE);
  }

  /** A cursor for "now" that does not move the issued sequence. */
  nowTicks(): bigint {
    return BigInt(Math.floor(this.clock.now())) * 10000n;
  }
}
