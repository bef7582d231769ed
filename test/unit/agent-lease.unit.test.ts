// LeaseKeeper on a fake clock: acquisition before anything runs, renewal, fencing after T_fence
// without BOTH a lease renewal and a heartbeat, and resuming when both are back.
import { FakeClock } from '../../runtime';
import { LeaseKeeper } from '../../agents/host/lease';
import type { LeaseBackend } from '../../agents/host/lease';
import type { LeaseRecord } from '../../store/leases';

class FakeBackend implements LeaseBackend {
  holder: string | undefined;
  renewTime = 0;
  duration = 0;
  down = false;
  calls = 0;
  constructor(private readonly clock: FakeClock) {}
  async acquire(host: string, holder: string, now: number, durationMs: number) {
    this.calls++;
    if (this.down) throw new Error('unreachable');
    if (this.holder === undefined || this.holder === holder || now >= this.renewTime + this.duration) {
      this.holder = holder;
      this.renewTime = now;
      this.duration = durationMs;
      return { ok: true as const };
    }
    const current: LeaseRecord = { name: host, holder: this.holder, renewTime: this.renewTime, acquireTime: 0, durationMs: this.duration, transitions: 0 };
    return { ok: false as const, current };
  }
  async renew(_host: string, holder: string, now: number) {
    this.calls++;
    if (this.down) throw new Error('unreachable');
    if (this.holder !== holder) return false;
    this.renewTime = now;
    return true;
  }
}

/** Lets promise callbacks run between fake-clock steps. */
async function run(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  }
}

function setup(prefill?: (b: FakeBackend) => void) {
  const clock = new FakeClock(1_000_000);
  const backend = new FakeBackend(clock);
  prefill?.(backend);
  const events: string[] = [];
  const keeper = new LeaseKeeper({
    host: 'hv-1', holder: 'me', backend, clock, renewIntervalMs: 1000, fenceAfterMs: 5000,
    onFence: () => void events.push(`fence@${clock.now()}`),
    onResume: () => void events.push(`resume@${clock.now()}`),
  });
  const ac = new AbortController();
  const done = keeper.start(ac.signal);
  // The heartbeat writer reports to the keeper every second while `beating`.
  const hb = { beating: true };
  return { clock, backend, keeper, events, ac, done, hb };
}

async function beatFor(s: ReturnType<typeof setup>, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    if (s.hb.beating) s.keeper.heartbeatOk(s.clock.now());
    await run(s.clock, 1000);
  }
}

test('holds the lease after acquiring it and renews it every interval', async () => {
  const s = setup();
  await beatFor(s, 100);
  expect(s.keeper.state).toBe('held');
  expect(s.keeper.fenced()).toBe(false);
  const calls = s.backend.calls;
  await beatFor(s, 10_000);
  expect(s.backend.calls - calls).toBeGreaterThanOrEqual(9);
  expect(s.events).toEqual([]);
  s.ac.abort();
  await s.done;
});

test('waits while another live agent holds the lease, and takes it once that lease expires', async () => {
  const s = setup((b) => {
    b.holder = 'other';
    b.renewTime = 1_000_000;
    b.duration = 3000;
  });
  await beatFor(s, 2000);
  expect(s.keeper.state).toBe('acquiring');
  expect(s.keeper.fenced()).toBe(true);
  await beatFor(s, 3000);
  expect(s.keeper.state).toBe('held');
  s.ac.abort();
  await s.done;
});

test('fences T_fence after the last successful renewal, and resumes when renewals succeed again', async () => {
  const s = setup();
  await beatFor(s, 2000);
  s.backend.down = true;
  const lostAt = s.clock.now();
  await beatFor(s, 4000);
  expect(s.keeper.state).toBe('held');
  await beatFor(s, 3000);
  expect(s.keeper.state).toBe('fenced');
  const fencedAt = Number(s.events[0].split('@')[1]);
  expect(fencedAt - lostAt).toBeGreaterThanOrEqual(4000);
  expect(fencedAt - lostAt).toBeLessThanOrEqual(6000);
  s.backend.down = false;
  await beatFor(s, 2000);
  expect(s.keeper.state).toBe('held');
  expect(s.events.map((e) => e.split('@')[0])).toEqual(['fence', 'resume']);
  s.ac.abort();
  await s.done;
});

test('fences when heartbeats to the Host stop even though the lease renews (the controller reads the heartbeat)', async () => {
  const s = setup();
  await beatFor(s, 2000);
  s.hb.beating = false;
  await beatFor(s, 7000);
  expect(s.keeper.state).toBe('fenced');
  s.hb.beating = true;
  await beatFor(s, 2000);
  expect(s.keeper.state).toBe('held');
  s.ac.abort();
  await s.done;
});
