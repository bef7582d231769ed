/** KeyedJobs: the agent's status writes, off the reconcile path. */
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedJobs } from '../../agents/vm/status-queue';

test('only the newest job of a key runs, never two of one key at once, at most `concurrency` at a time', async () => {
  const ran: string[] = [];
  let running = 0;
  let peak = 0;
  const jobs = new KeyedJobs({ concurrency: 2 });
  const job = (name: string) => async () => {
    running++;
    peak = Math.max(peak, running);
    await sleep(20);
    ran.push(name);
    running--;
  };
  jobs.submit('a', job('a1'));
  jobs.submit('a', job('a2')); // a1 is running: a2 waits
  jobs.submit('a', job('a3')); // replaces a2
  jobs.submit('b', job('b1'));
  jobs.submit('c', job('c1'));
  await jobs.idle();
  expect(ran.sort()).toEqual(['a1', 'a3', 'b1', 'c1']);
  expect(peak).toBe(2);
});

test('jobs wait while holdWhile holds, start when it stops holding, and never wait longer than maxHoldMs', async () => {
  let busy = true;
  const started: number[] = [];
  const jobs = new KeyedJobs({ holdWhile: () => busy, maxHoldMs: 400 });
  const t0 = Date.now();
  jobs.submit('x', async () => void started.push(Date.now() - t0));
  await sleep(100);
  expect(started).toEqual([]); // held
  busy = false;
  await jobs.idle();
  expect(started[0]).toBeGreaterThanOrEqual(100);

  // Busy for ever: the job still starts once it has waited maxHoldMs.
  busy = true;
  const t1 = Date.now();
  let at = -1;
  jobs.submit('y', async () => void (at = Date.now() - t1));
  await jobs.idle();
  expect(at).toBeGreaterThanOrEqual(380);
});

test('a failed job is handed to onError with its key', async () => {
  const errors: string[] = [];
  const jobs = new KeyedJobs({ onError: (key, err) => errors.push(`${key}: ${(err as Error).message}`) });
  jobs.submit('k', async () => {
    throw new Error('boom');
  });
  await jobs.idle();
  expect(errors).toEqual(['k: boom']);
});
