/**
 * HostSource: one informer of a kind for every host of an agent process (hollow hosts included:
 * one change-feed poller per kind and process, never one per host), keeping the objects that
 * concern the process's hosts and handing each changed key to the host it concerns: the host it
 * concerns now, and the one it concerned before. VmSource (VMs by status.host) and the Volume
 * source (Volumes by the host holding them) are two of these.
 */
import type { Logger } from 'pino';
import type { FieldRequirement, StoredObject } from '../store';
import { Informer, objectKey, type CachedObject, type Clock, type ObjectSource } from '../runtime';

export const HOST_INDEX = 'host';

/** `T` is the type of the kind's objects, e.g. VirtualMachineObject. */
export interface HostSourceOptions<T extends StoredObject = StoredObject> {
  store: ObjectSource;
  kind: string;
  /** the host names of this process */
  hosts: Iterable<string>;
  /** the host an object concerns, if any */
  hostOf: (obj: CachedObject<T>) => string | undefined;
  /** narrows the list (e.g. an indexed status.host when the process has one host) */
  fieldSelector?: FieldRequirement[];
  logger?: Logger;
  clock?: Clock;
  /** change-feed poll period; default 250 ms */
  pollIntervalMs?: number;
  /** full re-list period; default 300 000 ms */
  relistPeriodMs?: number;
}

/** Called with the key and the object as it is now (or was last, when deleted or moved away). */
export type KeyHandler<T extends StoredObject = StoredObject> = (key: string, obj: CachedObject<T>, change: 'add' | 'update' | 'delete') => void;

export class HostSource<T extends StoredObject = StoredObject> {
  readonly informer: Informer<T>;
  private readonly hosts: Set<string>;
  private readonly handlers = new Map<string, KeyHandler<T>>();
  private readonly hostOf: (obj: CachedObject<T>) => string | undefined;

  constructor(o: HostSourceOptions<T>) {
    this.hosts = new Set(o.hosts);
    this.hostOf = o.hostOf;
    this.informer = new Informer<T>({
      store: o.store,
      kind: o.kind,
      fieldSelector: o.fieldSelector,
      filter: (obj) => {
        const h = o.hostOf(obj);
        return h !== undefined && this.hosts.has(h);
      },
      pollIntervalMs: o.pollIntervalMs ?? 250,
      resyncPeriodMs: o.relistPeriodMs ?? 300_000,
      clock: o.clock,
      logger: o.logger,
    });
    this.informer.addIndex(HOST_INDEX, (obj) => {
      const h = o.hostOf(obj);
      return h ? [h] : [];
    });
    const dispatch = (obj: CachedObject<T>, change: 'add' | 'update' | 'delete') => {
      const h = o.hostOf(obj);
      if (h) this.handlers.get(h)?.(objectKey(obj), obj, change);
    };
    this.informer.addHandlers({
      onAdd: (_k, obj) => dispatch(obj, 'add'),
      onUpdate: (_k, oldObj, newObj) => {
        if (o.hostOf(oldObj) !== o.hostOf(newObj)) dispatch(oldObj, 'delete');
        dispatch(newObj, 'update');
      },
      onDelete: (_k, obj) => dispatch(obj, 'delete'),
    });
  }

  /** Routes the keys of objects that concern `host` (now or before) to `handler`. */
  register(host: string, handler: KeyHandler<T>): () => void {
    this.handlers.set(host, handler);
    return () => {
      if (this.handlers.get(host) === handler) this.handlers.delete(host);
    };
  }

  /** The cached object `key` if it concerns `host`. Frozen: clone before changing. */
  of(host: string, key: string): CachedObject<T> | undefined {
    const o = this.informer.get(key);
    return o && this.hostOf(o) === host ? o : undefined;
  }

  /** The cached objects that concern `host`. */
  objectsOf(host: string): CachedObject<T>[] {
    return this.informer.byIndex(HOST_INDEX, host);
  }

  /** Keys of the objects that concern `host`. */
  keysOf(host: string): string[] {
    return this.objectsOf(host).map((o) => objectKey(o));
  }

  waitForSync(signal: AbortSignal): Promise<boolean> {
    return this.informer.waitForSync(signal);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.informer.start(signal);
  }
}
