// The controller runtime without Cassandra: work queue semantics on a fake clock, the rate
// limiters, the controller's retry contract and the manager's start/stop order.
import pino from 'pino';
import { Registry } from 'prom-client';
import {
  Controller, ControllerMetrics, ExponentialBackoff, FakeClock, Manager, TerminalError, TokenBucket, WorkQueue,
} from '../../runtime';
import { until } from '../helpers/wait';

const flush = () => new Promise((r) => setImmediate(r));
const silent = pino({ level: 'silent' });

describe('WorkQueue', () => {
  test('a key added again before it is processed is queued once', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  test('a key is never handed to two workers at once; re-added while in flight it comes back after done', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    const k = await q.get();
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((v) => (second = v));
    await flush();
    expect(second).toBeUndefined();
    q.done(k!);
    await flush();
    expect(second).toBe('a');
  });

  test('a waiting get() is woken by add()', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const p = q.get();
    q.add('x');
    expect(await p).toBe('x');
  });

  test('addRateLimited backs off per key: 5, 10, 20 ms ... capped at 5 min, reset by forget', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, burst: 1e9, qps: 1e9 });
    const delays = Array.from({ length: 20 }, () => q.when('k'));
    expect(delays.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(delays[19]).toBe(300_000);
    expect(q.numRequeues('k')).toBe(20);
    expect(q.when('other')).toBe(5);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    expect(q.when('k')).toBe(5);
  });

  test('a rate-limited key becomes available only after its backoff elapses', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addRateLimited('k'); // 5 ms
    q.addRateLimited('k'); // already pending at 5 ms; the later 10 ms add is ignored
    expect(q.len()).toBe(0);
    clock.advance(4);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('k');
  });

  test('addAfter keeps the earliest of several pending delays', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('k', 1000);
    q.addAfter('k', 100);
    q.addAfter('k', 500);
    clock.advance(100);
    expect(q.len()).toBe(1);
    expect(q.delayedCount()).toBe(0);
  });

  test('the overall token bucket limits rate-limited adds across keys', () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock, qps: 10, burst: 2, baseDelayMs: 1 });
    expect(q.when('a')).toBe(1);
    expect(q.when('b')).toBe(1);
    expect(q.when('c')).toBe(100); // bucket empty: one token every 100 ms
    expect(q.when('d')).toBe(200);
    clock.advance(1000);
    expect(q.when('e')).toBe(1); // refilled (capped at burst)
  });

  test('shutDown wakes waiting workers with undefined and drops pending delays', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const p = q.get();
    q.addAfter('later', 1000);
    q.shutDown();
    expect(await p).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
    q.add('x');
    expect(await q.get()).toBeUndefined();
  });
});

describe('rate limiters', () => {
  test('ExponentialBackoff honours custom base and cap', () => {
    const b = new ExponentialBackoff<string>({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([b.when('x'), b.when('x'), b.when('x'), b.when('x'), b.when('x')]).toEqual([100, 200, 400, 800, 1000]);
  });

  test('TokenBucket refills at qps up to burst', () => {
    const clock = new FakeClock();
    const t = new TokenBucket({ qps: 1, burst: 1, clock });
    expect(t.reserve()).toBe(0);
    expect(t.reserve()).toBe(1000);
    clock.advance(5000);
    expect(t.reserve()).toBe(0);
  });
});

describe('Controller', () => {
  test('retries thrown errors with backoff, forgets a key on success, does not retry a TerminalError', async () => {
    const calls: Record<string, number> = {};
    const registry = new Registry();
    const c = new Controller({
      name: 'test', logger: silent, workers: 2, resyncPeriodMs: 0, metrics: new ControllerMetrics(registry),
      queue: { baseDelayMs: 1 },
      reconciler: async (key) => {
        calls[key] = (calls[key] ?? 0) + 1;
        if (key === 'flaky' && calls[key] < 3) throw new Error('transient');
        if (key === 'bad') throw new TerminalError('impossible');
        if (key === 'timer' && calls[key] === 1) return { requeueAfterMs: 20 };
        return {};
      },
    });
    const ac = new AbortController();
    const running = c.start(ac.signal);
    for (const k of ['flaky', 'bad', 'ok', 'timer']) c.enqueue(k);
    await until('flaky retried twice and timer requeued once', () => calls.flaky === 3 && calls.timer === 2, { timeoutMs: 5000, everyMs: 5 });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await running;
    expect(calls).toEqual({ flaky: 3, bad: 1, ok: 1, timer: 2 });
    expect(c.queue.numRequeues('flaky')).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/stratus_controller_reconcile_total\{controller="test",result="terminal"\} 1/);
    expect(text).toMatch(/stratus_controller_reconcile_total\{controller="test",result="error"\} 2/);
  });

  test('never reconciles one key in two workers at once', async () => {
    let active = 0;
    let maxActive = 0;
    let total = 0;
    const c = new Controller({
      name: 'serial', logger: silent, workers: 4, resyncPeriodMs: 0,
      reconciler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
        total++;
        return {};
      },
    });
    const ac = new AbortController();
    const running = c.start(ac.signal);
    for (let i = 0; i < 50; i++) {
      c.enqueue('same');
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await running;
    expect(maxActive).toBe(1);
    expect(total).toBeGreaterThan(1);
  });
});

describe('Manager', () => {
  test('starts runnables in order and stops them in reverse order, each after the next one returned', async () => {
    const events: string[] = [];
    const mk = (name: string) => ({
      name,
      async start(signal: AbortSignal) {
        events.push(`start ${name}`);
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        await new Promise((r) => setTimeout(r, 5));
        events.push(`stop ${name}`);
      },
    });
    const m = new Manager({ logger: silent }).add(mk('informers')).add(mk('controller'));
    const ac = new AbortController();
    const p = m.start(ac.signal);
    await flush();
    ac.abort();
    await p;
    expect(events).toEqual(['start informers', 'start controller', 'stop controller', 'stop informers']);
  });

  test('a failing runnable stops the others and the manager rejects with its error', async () => {
    let stopped = false;
    const m = new Manager({ logger: silent })
      .add({ name: 'ok', start: (s) => new Promise<void>((r) => s.addEventListener('abort', () => { stopped = true; r(); })) })
      .add({ name: 'bad', start: async () => { throw new Error('boom'); } });
    await expect(m.start(new AbortController().signal)).rejects.toThrow('boom');
    expect(stopped).toBe(true);
  });
});

describe('WorkQueue order: random', () => {
  test('hands out every waiting key exactly once, in a different order than added', async () => {
    let seed = 42;
    const rng = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const q = new WorkQueue({ clock: new FakeClock(), order: 'random', random: rng });
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    for (const k of keys) q.add(k);
    const got: string[] = [];
    for (let i = 0; i < 50; i++) got.push((await q.get())!);
    expect([...got].sort()).toEqual([...keys].sort());
    expect(got).not.toEqual(keys);
  });
});
