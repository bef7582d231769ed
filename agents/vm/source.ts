/**
 * VmSource: the one VirtualMachine informer of an agent process, shared by every host the
 * process runs (hollow hosts included: one change-feed poller per process, never one per host).
 * It keeps the VMs bound to the process's hosts (status.host) and hands each changed key to the
 * host it concerns: the host it is bound to now, and the one it was bound to before.
 */
import type { Logger } from 'pino';
import type { FieldRequirement, ObjectStore } from '../../store';
import { Informer, objectKey, type CachedObject, type Clock } from '../../controllers/runtime';

export const HOST_INDEX = 'host';

export interface VmSourceOptions {
  store: ObjectStore;
  /** the host names of this process */
  hosts: Iterable<string>;
  logger?: Logger;
  clock?: Clock;
  /** change-feed poll period; default 250 ms (a new binding is seen within ~0.5 s) */
  pollIntervalMs?: number;
  /** full re-list period; default 300 000 ms */
  relistPeriodMs?: number;
}

/** Called with the key and the object as it is now (or was last, when deleted or rebound). */
type KeyHandler = (key: string, obj: CachedObject, change: 'add' | 'update' | 'delete') => void;

function hostOf(o: CachedObject): string | undefined {
  const h = (o.status as { host?: unknown } | undefined)?.host;
  return typeof h === 'string' && h ? h : undefined;
}

export class VmSource {
  readonly informer: Informer;
  private readonly hosts: Set<string>;
  private readonly handlers = new Map<string, KeyHandler>();
  private freshAt = -Infinity;

  constructor(o: VmSourceOptions) {
    this.hosts = new Set(o.hosts);
    // With one host the list can use the store's status.host index; with many, filter in memory.
    const fieldSelector: FieldRequirement[] | undefined =
      this.hosts.size === 1 ? [{ field: 'status.host', op: '=', value: [...this.hosts][0] }] : undefined;
    // The informer sees the store through this wrapper, which notes when a change-feed read that
    // succeeded had started: everything committed before then is in the cache.
    const clock = o.clock;
    const now = () => (clock ? clock.now() : Date.now());
    const watched = {
      list: (...args: Parameters<ObjectStore['list']>) => o.store.list(...args),
      follow: (kind: string, from?: string) => {
        const follower = o.store.follow(kind, from);
        const poll = follower.poll.bind(follower);
        follower.poll = async () => {
          const startedAt = now();
          const events = await poll();
          if (startedAt > this.freshAt) this.freshAt = startedAt;
          return events;
        };
        return follower;
      },
    } as unknown as ObjectStore;
    this.informer = new Informer({
      store: watched,
      kind: 'VirtualMachine',
      fieldSelector,
      filter: (obj) => {
        const h = hostOf(obj);
        return h !== undefined && this.hosts.has(h);
      },
      pollIntervalMs: o.pollIntervalMs ?? 250,
      resyncPeriodMs: o.relistPeriodMs ?? 300_000,
      clock: o.clock,
      logger: o.logger,
    });
    this.informer.addIndex(HOST_INDEX, (obj) => {
      const h = hostOf(obj);
      return h ? [h] : [];
    });
    const dispatch = (obj: CachedObject, change: 'add' | 'update' | 'delete') => {
      const h = hostOf(obj);
      if (h) this.handlers.get(h)?.(objectKey(obj), obj, change);
    };
    this.informer.addHandlers({
      onAdd: (_k, obj) => dispatch(obj, 'add'),
      onUpdate: (_k, oldObj, newObj) => {
        if (hostOf(oldObj) !== hostOf(newObj)) dispatch(oldObj, 'delete');
        dispatch(newObj, 'update');
      },
      onDelete: (_k, obj) => dispatch(obj, 'delete'),
    });
  }

  /** Routes the keys of VMs bound to `host` (now or before) to `handler`. */
  register(host: string, handler: KeyHandler): () => void {
    this.handlers.set(host, handler);
    return () => {
      if (this.handlers.get(host) === handler) this.handlers.delete(host);
    };
  }

  /** The cached VM `key` if it is bound to `host`. Frozen: clone before changing. */
  boundTo(host: string, key: string): CachedObject | undefined {
    const o = this.informer.get(key);
    return o && hostOf(o) === host ? o : undefined;
  }

  /** Keys of the VMs bound to `host`. */
  keysOf(host: string): string[] {
    return this.informer.byIndex(HOST_INDEX, host).map((o) => objectKey(o));
  }

  /** When the newest successful change-feed read started (ms): the cache holds every change before it. */
  freshSince(): number {
    return this.freshAt;
  }

  waitForSync(signal: AbortSignal): Promise<boolean> {
    return this.informer.waitForSync(signal);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.informer.start(signal);
  }
}
