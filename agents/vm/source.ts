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

type KeyHandler = (key: string) => void;

function hostOf(o: CachedObject): string | undefined {
  const h = (o.status as { host?: unknown } | undefined)?.host;
  return typeof h === 'string' && h ? h : undefined;
}

export class VmSource {
  readonly informer: Informer;
  private readonly hosts: Set<string>;
  private readonly handlers = new Map<string, KeyHandler>();

  constructor(o: VmSourceOptions) {
    this.hosts = new Set(o.hosts);
    // With one host the list can use the store's status.host index; with many, filter in memory.
    const fieldSelector: FieldRequirement[] | undefined =
      this.hosts.size === 1 ? [{ field: 'status.host', op: '=', value: [...this.hosts][0] }] : undefined;
    this.informer = new Informer({
      store: o.store,
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
    const dispatch = (obj: CachedObject) => {
      const h = hostOf(obj);
      if (h) this.handlers.get(h)?.(objectKey(obj));
    };
    this.informer.addHandlers({
      onAdd: (_k, obj) => dispatch(obj),
      onUpdate: (_k, oldObj, newObj) => {
        if (hostOf(oldObj) !== hostOf(newObj)) dispatch(oldObj);
        dispatch(newObj);
      },
      onDelete: (_k, obj) => dispatch(obj),
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

  waitForSync(signal: AbortSignal): Promise<boolean> {
    return this.informer.waitForSync(signal);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.informer.start(signal);
  }
}
