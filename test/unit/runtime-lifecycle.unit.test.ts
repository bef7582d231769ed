// The process lifecycle on a fake clock: the Periodic runnable (period, jitter from the injected
// random source, first run, errors retried) and the Manager (start order, start-up steps, reverse
// stop, stop timeout, readiness).

import pino from 'pino';
import { FakeClock, Manager, Periodic, closer, untilAborted, type Runnable } from '../../runtime';

const silent = pino({ level: 'silent' });
/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

/** Advances the fake clock in steps, letting promises settle between them. */
async function advance(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await flush();
    clock.advance(Math.min(step, ms - t));
    await flush();
  }
}

describe('Periodic', () => {
  test('runs the job every period, measured from the end of a run, the first after one period', async () => {
    const clock = new FakeClock(0);
    const runs: number[] = [];
    const p = new Periodic({ name: 'job', periodMs: 100, clock, run: () => void runs.push(clock.now()) });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 350);
    expect(runs).toEqual([100, 200, 300]);
    ac.abort();
    await done;
    expect(clock.pendingTimers()).toBe(0);
  });

  test('first: immediate runs at once; jitter draws each wait from the injected random source', async () => {
    const clock = new FakeClock(0);
    const runs: number[] = [];
    const randoms = [0, 0.75, 0.5];
    const p = new Periodic({
      name: 'job', periodMs: 100, jitter: 0.2, first: 'immediate', clock, random: () => randoms.shift() ?? 0.5,
      run: () => void runs.push(clock.now()),
    });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 400, 1);
    ac.abort();
    await done;
    // waits: 80 (random 0), 110 (random 0.75), 100 (0.5), 100 ...
    expect(runs.slice(0, 4)).toEqual([0, 80, 190, 290]);
  });

  test('first: a random point of [min, max) × period spreads the first run', async () => {
    const clock = new FakeClock(0);
    const runs: number[] = [];
    const p = new Periodic({ name: 'job', periodMs: 1000, first: { min: 0.3, max: 1 }, clock, random: () => 0.5, run: () => void runs.push(clock.now()) });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 700);
    ac.abort();
    await done;
    expect(runs).toEqual([650]);
  });

  test("schedule 'rate' counts the period from the start of a run", async () => {
    const clock = new FakeClock(0);
    const runs: number[] = [];
    const p = new Periodic({
      name: 'job', periodMs: 100, first: 'immediate', schedule: 'rate', clock,
      run: async (signal) => {
        runs.push(clock.now());
        await new Promise<void>((r) => { const h = clock.setTimeout(r, 30); signal.addEventListener('abort', () => { clock.clearTimeout(h); r(); }); });
      },
    });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 250);
    ac.abort();
    await done;
    expect(runs).toEqual([0, 100, 200]);
  });

  test('a failing run is logged and retried the next period', async () => {
    const clock = new FakeClock(0);
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) });
    let calls = 0;
    const p = new Periodic({
      name: 'audit', periodMs: 50, clock, logger,
      run: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 120);
    ac.abort();
    await done;
    expect(calls).toBe(2);
    expect(logged).toEqual(['audit failed; next period retries']);
  });

  test('an abort during the wait stops it at once, without another run', async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const p = new Periodic({ name: 'job', periodMs: 1000, clock, run: () => void calls++ });
    const ac = new AbortController();
    const done = p.start(ac.signal);
    await advance(clock, 500);
    ac.abort();
    await done;
    expect(calls).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('Manager', () => {
  /** A runnable that records its start and stop, taking `stopMs` of fake time to stop. */
  function recorder(events: string[], clock: FakeClock, name: string, stopMs = 0): Runnable {
    return {
      name,
      async start(signal) {
        events.push(`start ${name}`);
        await untilAborted(signal);
        if (stopMs > 0) await new Promise<void>((r) => clock.setTimeout(r, stopMs));
        events.push(`stop ${name}`);
      },
    };
  }

  test('starts runnables in the order added and stops them in reverse order, each awaited', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    const m = new Manager({ logger: silent, clock })
      .add(recorder(events, clock, 'cassandra', 5))
      .add(recorder(events, clock, 'informers', 5))
      .add(recorder(events, clock, 'controllers', 5));
    expect(m.names()).toEqual(['cassandra', 'informers', 'controllers']);
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await m.started;
    expect(events).toEqual(['start cassandra', 'start informers', 'start controllers']);
    ac.abort();
    await advance(clock, 30, 1);
    await done;
    expect(events.slice(3)).toEqual(['stop controllers', 'stop informers', 'stop cassandra']);
  });

  test('a start-up step runs before its runnable starts; the ones after wait for it', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const m = new Manager({ logger: silent, clock })
      .add(recorder(events, clock, 'lease'))
      .add(recorder(events, clock, 'controller'), { after: async () => { await held; events.push('lease held'); } })
      .add(recorder(events, clock, 'monitor'));
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await flush();
    expect(events).toEqual(['start lease']);
    expect(m.notReady()).toBe('starting (waiting for controller)');
    release();
    await m.started;
    expect(events).toEqual(['start lease', 'lease held', 'start controller', 'start monitor']);
    expect(m.notReady()).toBeUndefined();
    ac.abort();
    await done;
    expect(m.notReady()).toBe('stopping');
  });

  test('stopping during a start-up step starts nothing after it and stops what runs', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    const m = new Manager({ logger: silent, clock })
      .add(recorder(events, clock, 'link'))
      .add(recorder(events, clock, 'controller'), { after: (s) => untilAborted(s).then(() => false) });
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await flush();
    ac.abort();
    await done;
    expect(events).toEqual(['start link', 'stop link']);
  });

  test('a failing runnable stops the others in reverse order and the manager rejects with its error', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    const m = new Manager({ logger: silent, clock })
      .add(recorder(events, clock, 'a'))
      .add(recorder(events, clock, 'b'))
      .add({ name: 'bad', start: async () => { await flush(); throw new Error('boom'); } });
    await expect(m.start(new AbortController().signal)).rejects.toThrow('boom');
    expect(events).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  test('a runnable that does not stop in time is left behind after stopTimeoutMs of the clock', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    const m = new Manager({ logger: silent, clock, stopTimeoutMs: 1000 })
      .add(recorder(events, clock, 'first'))
      .add({ name: 'stuck', start: () => new Promise<void>(() => undefined) });
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await m.started;
    ac.abort();
    await flush();
    await advance(clock, 999, 111);
    expect(events).toEqual(['start first']);
    await advance(clock, 1);
    await done;
    expect(events).toEqual(['start first', 'stop first']);
  });

  test('readiness: the first runnable that is not ready, by name; a closer closes its resource last', async () => {
    const clock = new FakeClock(0);
    let synced = false;
    let closed = 0;
    const m = new Manager({ logger: silent, clock })
      .add(closer('cassandra', () => void closed++))
      .add({ name: 'informer/Host', start: untilAborted, notReady: () => (synced ? undefined : 'syncing') });
    const ac = new AbortController();
    const done = m.start(ac.signal);
    await m.started;
    expect(m.notReady()).toBe('informer/Host: syncing');
    synced = true;
    expect(m.notReady()).toBeUndefined();
    ac.abort();
    await done;
    expect(closed).toBe(1);
  });

  test('managers nest: an inner manager is one runnable of the outer one', async () => {
    const clock = new FakeClock(0);
    const events: string[] = [];
    const inner = new Manager({ logger: silent, clock, name: 'host/hv-1' }).add(recorder(events, clock, 'lease')).add(recorder(events, clock, 'vm-controller'));
    const outer = new Manager({ logger: silent, clock }).add(recorder(events, clock, 'source')).add(inner).add(recorder(events, clock, 'metrics'));
    expect(outer.names()).toEqual(['source', 'host/hv-1', 'metrics']);
    const ac = new AbortController();
    const done = outer.start(ac.signal);
    await outer.started;
    await inner.started;
    ac.abort();
    await done;
    expect(events).toEqual(['start source', 'start metrics', 'start lease', 'start vm-controller', 'stop metrics', 'stop vm-controller', 'stop lease', 'stop source']);
  });
});
