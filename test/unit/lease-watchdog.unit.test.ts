// Fencing that does not depend on a timer firing on time (agents/host/lease.ts): a process frozen
// past T_fence (SIGSTOP) resumes with no timer run yet; the first thing that asks the keeper must
// see it fenced, and the fence must already be under way. Simulated with a monotonic clock that
// jumps while the fake timer clock stands still. Also: a heartbeat acknowledged too late does not count.
import { FakeClock } from '../../runtime';
import { LeaseKeeper, type LeaseBackend } from '../../agents/host/lease';

const backend: LeaseBackend = {
  acquire: async () => ({ ok: true as const }),
  renew: async () => true,
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function setup() {
  const clock = new FakeClock(1_000_000);
  const mono = { now: 0 };
  const events: string[] = [];
  let stopped!: () => void;
  const keeper = new LeaseKeeper({
    host: 'hv-1', holder: 'me', backend, clock, monotonic: () => mono.now, renewIntervalMs: 200, fenceAfterMs: 1000,
    // the domains take a while to stop: readers must be able to wait for it
    onFence: () => new Promise<void>((resolve) => {
      events.push('fence-begun');
      stopped = () => {
        events.push('fence-done');
        resolve();
      };
    }),
  });
  const ac = new AbortController();
  const done = keeper.start(ac.signal);
  return { clock, mono, keeper, events, ac, done, stop: () => stopped() };
}

test('frozen past T_fence: the first question after resuming finds the host fenced and the fence begun, before any timer runs', async () => {
  const s = setup();
  await settle();
  expect(s.keeper.state).toBe('held');
  s.keeper.heartbeatOk(s.keeper.stamp());
  // The freeze: 1.5 x T_fence pass on the monotonic clock, not one timer fires.
  s.mono.now += 1500;
  expect(s.events).toEqual([]);
  expect(s.keeper.fenced()).toBe(true);
  expect(s.keeper.fences).toBe(1);
  expect(s.events).toEqual(['fence-begun']);
  // A reader (GET /debug/domains) waits until the domains are stopped.
  let settled = false;
  const waiting = s.keeper.fenceSettled().then(() => (settled = true));
  await settle();
  expect(settled).toBe(false);
  s.stop();
  await waiting;
  expect(s.events).toEqual(['fence-begun', 'fence-done']);
  s.ac.abort();
  s.clock.advance(1000);
  await s.done;
});

test('a heartbeat acknowledged later than the ack bound (T_fence / 2) does not keep the host alive', async () => {
  const s = setup();
  await settle();
  s.keeper.heartbeatOk(s.keeper.stamp()); // at 0
  s.mono.now = 300;
  s.clock.advance(200); // a renewal sent at 300
  await settle();
  const late = s.keeper.stamp();
  s.mono.now = 900; // acknowledged 600 ms after it was sent: more than 500
  s.keeper.heartbeatOk(late);
  expect(s.keeper.lastAliveAt()).toBe(0);
  const onTime = s.keeper.stamp();
  s.mono.now = 1000; // 100 ms: counts (alive since the renewal at 300 now)
  s.keeper.heartbeatOk(onTime);
  expect(s.keeper.lastAliveAt()).toBe(300);
  s.ac.abort();
  s.clock.advance(1000);
  await s.done;
});
