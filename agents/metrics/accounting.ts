/**
 * Accounting: cpu-seconds, memory-MiB-seconds and disk-GiB-seconds per VM per hour, integrated
 * from monitoring intervals. An interval that spans an hour boundary is split in proportion.
 * Pure (no I/O, no clock): the monitor feeds it and flushes its dirty rows.
 */

import { HOUR_MS, type UsageIdentity, type UsageRow, type UsageTotals } from '../../store/samples';

export { HOUR_MS, type UsageIdentity, type UsageRow, type UsageTotals };

export interface IntervalUsage {
  /** CPU time the VM used in the interval, seconds */
  cpuSeconds: number;
  /** memory the VM had while running, MiB */
  memoryMiB: number;
  /** size of its disks, GiB (billed whether it runs or not) */
  diskGiB: number;
  running: boolean;
}

export function hourOf(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

const ZERO: UsageTotals = { cpuSeconds: 0, memoryMiBSeconds: 0, diskGiBSeconds: 0, runningSeconds: 0 };

export class UsageAccumulator {
  private readonly rows = new Map<string, UsageRow & { dirty: boolean; seeded: boolean }>();

  private static id(uid: string, hour: number): string {
    return `${uid}@${hour}`;
  }

  /** Adds the usage of [fromMs, toMs) for one VM, split at hour boundaries. */
  add(vm: UsageIdentity, fromMs: number, toMs: number, u: IntervalUsage): void {
    if (!(toMs > fromMs)) return;
    const total = (toMs - fromMs) / 1000;
    for (let start = fromMs; start < toMs; ) {
      const hour = hourOf(start);
      const end = Math.min(toMs, hour + HOUR_MS);
      const secs = (end - start) / 1000;
      const share = secs / total;
      const id = UsageAccumulator.id(vm.uid, hour);
      let row = this.rows.get(id);
      if (!row) this.rows.set(id, (row = { ...vm, hour, ...ZERO, dirty: false, seeded: false }));
      row.cpuSeconds += Math.max(0, u.cpuSeconds) * share;
      if (u.running) {
        row.memoryMiBSeconds += u.memoryMiB * secs;
        row.runningSeconds += secs;
      }
      row.diskGiBSeconds += u.diskGiB * secs;
      row.dirty = true;
      start = end;
    }
  }

  /** Rows whose earlier totals (from a previous agent process) were not loaded yet. */
  unseeded(): UsageRow[] {
    return [...this.rows.values()].filter((r) => !r.seeded).map(({ dirty: _d, seeded: _s, ...r }) => r);
  }

  /** Adds totals stored earlier for the same VM and hour, once. */
  seed(uid: string, hour: number, stored: UsageTotals | undefined): void {
    const row = this.rows.get(UsageAccumulator.id(uid, hour));
    if (!row || row.seeded) return;
    row.seeded = true;
    if (!stored) return;
    row.cpuSeconds += stored.cpuSeconds;
    row.memoryMiBSeconds += stored.memoryMiBSeconds;
    row.diskGiBSeconds += stored.diskGiBSeconds;
    row.runningSeconds += stored.runningSeconds;
    row.dirty = true;
  }

  /** The rows changed since the last call (their running totals), marked clean. */
  takeDirty(): UsageRow[] {
    const out: UsageRow[] = [];
    for (const r of this.rows.values()) {
      if (!r.dirty) continue;
      r.dirty = false;
      const { dirty: _d, seeded: _s, ...row } = r;
      out.push({ ...row });
    }
    return out;
  }

  /** Forgets clean rows of hours before `beforeMs`. */
  prune(beforeMs: number): void {
    for (const [id, r] of this.rows) if (!r.dirty && r.hour + HOUR_MS <= beforeMs) this.rows.delete(id);
  }

  get size(): number {
    return this.rows.size;
  }
}
