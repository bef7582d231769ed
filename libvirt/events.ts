/**
 * libvirt's default event loop, pumped off the main thread, and lifecycle event dispatch.
 * Owns: the pump (virEventRunDefaultImpl via koffi `.async`), the lifecycle callback
 * trampoline, and the table of listeners it dispatches to.
 *
 * libvirt's event loop is process-global, so the pump is too (its state is ffi.ts's
 * processState()): started when the first listener is added and stopped when the last one goes,
 * so an idle agent, or a test file, can exit. virEventRunDefaultImpl blocks in poll(), so it
 * runs as a koffi `.async` call on one of koffi's threads; libvirt calls our callbacks on that
 * thread and koffi relays each call to the main thread (the pump thread waits meanwhile).
 * Listeners then run from a microtask, so the pump is released at once.
 */
import { ensureEventImpl, libvirt, processState } from './ffi';
import { domainEventName, type DomainLifecycleEvent } from './constants';

export type DomainLifecycleListener = (event: DomainLifecycleEvent) => void;

const listeners = new Map<number, DomainLifecycleListener>();
let nextListenerId = 1;
let lifecycleTrampoline: bigint | undefined;

/** The function pointer to hand to virConnectDomainEventRegisterAny for lifecycle events. */
export function lifecycleCallback(): bigint {
  if (lifecycleTrampoline !== undefined) return lifecycleTrampoline;
  const { koffi, fn } = libvirt();
  const uuidBuf = Buffer.alloc(37);
  // Runs on the main thread while the pump thread waits. The domain pointer is only valid
  // during the call; name and UUID are read from the object itself (no lock, no I/O).
  const onEvent = (_conn: bigint, dom: bigint, event: number, detail: number, opaque: bigint | null): number => {
    const listener = listeners.get(Number(opaque ?? 0));
    if (!listener) return 0;
    const name = fn.virDomainGetName(dom) as string;
    fn.virDomainGetUUIDString(dom, uuidBuf);
    const uuid = uuidBuf.toString('latin1', 0, 36);
    const ev = domainEventName(event, detail, name, uuid);
    queueMicrotask(() => listener(ev));
    return 0;
  };
  lifecycleTrampoline = koffi.register(onEvent, koffi.pointer(koffi.type('virLifecycleCallback')));
  return lifecycleTrampoline;
}

/** Adds a listener; returns the id to pass as the callback's opaque pointer. */
export function addLifecycleListener(listener: DomainLifecycleListener): number {
  const id = nextListenerId++;
  listeners.set(id, listener);
  return id;
}

export function removeLifecycleListener(id: number): void {
  listeners.delete(id);
}

/** Declares a user of the event loop; the pump runs while there is at least one. */
export function acquireEventLoop(): void {
  ensureEventImpl();
  const pump = processState().pump;
  pump.users++;
  pump.stopRequested = false;
  if (!pump.running) pump.running = runPump();
}

/** Drops a user; the last one stops the pump (resolves when it has stopped). */
export async function releaseEventLoop(): Promise<void> {
  const pump = processState().pump;
  pump.users = Math.max(0, pump.users - 1);
  if (pump.users > 0 || !pump.running) return;
  pump.stopRequested = true;
  if (pump.wakeTimer >= 0) libvirt().fn.virEventUpdateTimeout(pump.wakeTimer, 0);
  await pump.running;
}

/** True while the pump runs (for tests and diagnostics). */
export function eventLoopRunning(): boolean {
  return processState().pump.running !== undefined;
}

async function runPump(): Promise<void> {
  const { fn } = libvirt();
  const pump = processState().pump;
  ensureWakeTimer();
  try {
    while (!pump.stopRequested) {
      const rc = await new Promise<number>((resolve, reject) =>
        fn.virEventRunDefaultImpl.async((err: unknown, res: number) => (err ? reject(err) : resolve(res))),
      );
      // -1 means the loop itself failed (it retries poll errors itself); back off, don't spin.
      if (rc < 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    fn.virEventUpdateTimeout(pump.wakeTimer, -1);
    pump.running = undefined;
    // A new user may have arrived while the last iteration finished.
    if (pump.users > 0) {
      pump.stopRequested = false;
      pump.running = runPump();
    }
  }
}

/**
 * A disabled timer (period -1) kept in the loop. Arming it with period 0 interrupts the poll in
 * virEventRunDefaultImpl, so the pump notices a stop request; its callback disarms it again.
 */
function ensureWakeTimer(): void {
  const pump = processState().pump;
  if (pump.wakeTimer >= 0) return;
  const { koffi, fn } = libvirt();
  pump.wakeTrampoline = koffi.register(
    () => fn.virEventUpdateTimeout(pump.wakeTimer, -1),
    koffi.pointer(koffi.type('virEventTimeoutCallback')),
  );
  pump.wakeTimer = fn.virEventAddTimeout(-1, pump.wakeTrampoline, null, null) as number;
  if (pump.wakeTimer < 0) throw new Error('virEventAddTimeout failed');
}
