// UsageAccumulator: cpu-seconds, memory-MiB-seconds, disk-GiB-seconds per VM per hour.
import { HOUR_MS, UsageAccumulator } from '../../agents/metrics/accounting';

const vm = { namespace: 'demo', name: 'web', uid: 'u1' };
const H = Date.parse('2024-05-01T10:00:00Z');

test('an interval inside one hour adds its cpu time, memory and disk integrals', () => {
  const a = new UsageAccumulator();
  a.add(vm, H + 1000, H + 11_000, { cpuSeconds: 5, memoryMiB: 1024, diskGiB: 10, running: true });
  expect(a.takeDirty()).toEqual([{ ...vm, hour: H, cpuSeconds: 5, memoryMiBSeconds: 10_240, diskGiBSeconds: 100, runningSeconds: 10 }]);
  expect(a.takeDirty()).toEqual([]);
});

test('an interval across an hour boundary is split in proportion', () => {
  const a = new UsageAccumulator();
  a.add(vm, H + HOUR_MS - 2500, H + HOUR_MS + 7500, { cpuSeconds: 10, memoryMiB: 100, diskGiB: 1, running: true });
  const rows = a.takeDirty();
  expect(rows.map((r) => [r.hour, r.cpuSeconds, r.memoryMiBSeconds, r.diskGiBSeconds, r.runningSeconds])).toEqual([
    [H, 2.5, 250, 2.5, 2.5],
    [H + HOUR_MS, 7.5, 750, 7.5, 7.5],
  ]);
});

test('a stopped VM is billed for its disks only; totals are running sums rewritten as they grow', () => {
  const a = new UsageAccumulator();
  a.add(vm, H, H + 10_000, { cpuSeconds: 0, memoryMiB: 512, diskGiB: 2, running: false });
  a.add(vm, H + 10_000, H + 20_000, { cpuSeconds: 1, memoryMiB: 512, diskGiB: 2, running: true });
  expect(a.takeDirty()).toEqual([{ ...vm, hour: H, cpuSeconds: 1, memoryMiBSeconds: 5120, diskGiBSeconds: 40, runningSeconds: 10 }]);
});

test('totals stored by an earlier agent process are added once; old clean hours are pruned', () => {
  const a = new UsageAccumulator();
  a.add(vm, H, H + 1000, { cpuSeconds: 1, memoryMiB: 0, diskGiB: 0, running: true });
  expect(a.unseeded().map((r) => r.hour)).toEqual([H]);
  a.seed('u1', H, { cpuSeconds: 100, memoryMiBSeconds: 0, diskGiBSeconds: 0, runningSeconds: 50 });
  a.seed('u1', H, { cpuSeconds: 100, memoryMiBSeconds: 0, diskGiBSeconds: 0, runningSeconds: 50 });
  expect(a.unseeded()).toEqual([]);
  expect(a.takeDirty()[0]).toMatchObject({ cpuSeconds: 101, runningSeconds: 51 });
  a.prune(H + HOUR_MS);
  expect(a.size).toBe(0);
});
