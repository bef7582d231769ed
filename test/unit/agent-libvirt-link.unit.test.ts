// The pure and in-memory parts of the libvirt reconnection and Volume locking: backoff, the Host
// condition, which errors get the connection probed, the Alarm and the per-key mutex.
import { setTimeout as sleep } from 'node:timers/promises';
import { libvirtCondition, reconnectDelay } from '../../agents/host/libvirt-link';
import { Alarm } from '../../agents/host/alarm';
import { KeyedMutex } from '../../agents/keyed-mutex';
import { LibvirtError, mayMeanConnectionLost } from '../../libvirt';
import { ActionFailedError } from '../../agents/errors';
import { systemClock } from '../../runtime';

test('reconnect delays double from the base and stop at the cap', () => {
  expect([0, 1, 2, 3, 10, 1000].map((n) => reconnectDelay(n, 250, 15_000))).toEqual([250, 500, 1000, 2000, 15_000, 15_000]);
});

test('the LibvirtConnected condition: True with the URI when connected, else False with the reason and message', () => {
  expect(libvirtCondition({ connected: true, since: 0 }, 'qemu:///system')).toEqual({ type: 'LibvirtConnected', status: 'True', reason: 'Connected', message: 'the agent is connected to qemu:///system' });
  expect(libvirtCondition({ connected: false, since: 0, reason: 'ConnectionLost', message: 'lost it' }, 'qemu:///system')).toEqual({ type: 'LibvirtConnected', status: 'False', reason: 'ConnectionLost', message: 'lost it' });
});

test('connection-class libvirt errors (also as the cause of a failed action) get the connection probed; others do not', () => {
  const invalid = LibvirtError.local('virDomainCreate', 'VIR_ERR_INVALID_CONN', 'gone');
  expect(mayMeanConnectionLost(invalid)).toBe(true);
  expect(mayMeanConnectionLost(LibvirtError.local('virConnectIsAlive', 'VIR_ERR_SYSTEM_ERROR', 'End of file while reading data'))).toBe(true);
  expect(mayMeanConnectionLost(LibvirtError.local('virConnectIsAlive', 'VIR_ERR_RPC', 'rpc'))).toBe(true);
  expect(mayMeanConnectionLost(new ActionFailedError('start', 'StartFailed', 'start failed', { cause: invalid }))).toBe(true);
  expect(mayMeanConnectionLost(LibvirtError.local('virDomainLookupByName', 'VIR_ERR_NO_DOMAIN', 'no domain'))).toBe(false);
  expect(mayMeanConnectionLost(new Error('boom'))).toBe(false);
  expect(mayMeanConnectionLost(undefined)).toBe(false);
});

test('an Alarm nap ends at wake(), a wake before the nap makes it return at once, and abort ends it', async () => {
  const alarm = new Alarm(systemClock);
  const ac = new AbortController();
  let woke = false;
  const nap = alarm.nap(60_000, ac.signal).then(() => (woke = true));
  await sleep(20);
  expect(woke).toBe(false);
  alarm.wake();
  await nap;
  alarm.wake();
  await alarm.nap(60_000, ac.signal); // returns at once
  const aborted = alarm.nap(60_000, ac.signal);
  ac.abort();
  await aborted;
});

test('KeyedMutex runs the sections of one key one at a time, in order, and other keys meanwhile', async () => {
  const m = new KeyedMutex();
  const log: string[] = [];
  const section = (name: string, ms: number) => async () => {
    log.push(`${name}+`);
    await sleep(ms);
    log.push(`${name}-`);
    return name;
  };
  const results = await Promise.all([m.run('a', section('a1', 30)), m.run('a', section('a2', 1)), m.run('b', section('b1', 1))]);
  expect(results).toEqual(['a1', 'a2', 'b1']);
  expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
  expect(log.indexOf('b1-')).toBeLessThan(log.indexOf('a1-'));
  // A failing section releases the key.
  await expect(m.run('a', async () => { throw new Error('x'); })).rejects.toThrow('x');
  expect(await m.run('a', async () => 'after')).toBe('after');
});
