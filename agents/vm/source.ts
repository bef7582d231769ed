/**
 * VmSource: the one VirtualMachine informer of an agent process, shared by every host the
 * process runs (a HostSource on status.host). It also says when the cache was last known fresh
 * (the binding check before a start relies on it) and which bound VMs use a given Volume.
 */
import type { Logger } from 'pino';
import type { FieldRequirement, ObjectStore, StoredObject, VirtualMachineObject } from '../../store';
import { systemClock, type CachedObject, type ChangeFollower, type Clock, type ObjectSource } from '../../runtime';
import { HostSource } from '../host-source';

export const VOLUME_INDEX = 'volume';

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

function hostOf(o: CachedObject<VirtualMachineObject>): string | undefined {
  const h = o.status?.host;
  return typeof h === 'string' && h ? h : undefined;
}

/** "namespace/volume" of each Volume a VM's disks name. */
function volumesOf(o: CachedObject<VirtualMachineObject>): string[] {
  const disks = o.spec.disks ?? [];
  return [...new Set(disks.flatMap((d) => (d.volume ? [`${o.metadata.namespace ?? ''}/${d.volume}`] : [])))];
}

/** When the newest successful change-feed read started (ms), shared with the store wrapper. */
interface Freshness {
  at: number;
}

/**
 * The store as the informer sees it: a change-feed read that succeeded notes when it started,
 * since everything committed before then is in the cache.
 */
function noteFreshReads(store: ObjectStore, fresh: Freshness, clock?: Clock): ObjectSource {
  const now = () => (clock ?? systemClock).now();
  return {
    list: (kind, namespace, opts) => store.list(kind, namespace, opts),
    follow<T extends StoredObject>(kind: string, from?: string): ChangeFollower<T> {
      const follower = store.follow<T>(kind, from);
      return {
        poll: async () => {
          const startedAt = now();
          const events = await follower.poll();
          if (startedAt > fresh.at) fresh.at = startedAt;
          return events;
        },
      };
    },
  };
}

export class VmSource extends HostSource<VirtualMachineObject> {
  private readonly fresh: Freshness;

  constructor(o: VmSourceOptions) {
    const hosts = [...o.hosts];
    const fresh: Freshness = { at: -Infinity };
    // With one host the list can use the store's status.host index; with many, filter in memory.
    const fieldSelector: FieldRequirement[] | undefined = hosts.length === 1 ? [{ field: 'status.host', op: '=', value: hosts[0] }] : undefined;
    super({
      store: noteFreshReads(o.store, fresh, o.clock), kind: 'VirtualMachine', hosts, hostOf, fieldSelector,
      logger: o.logger, clock: o.clock, pollIntervalMs: o.pollIntervalMs, relistPeriodMs: o.relistPeriodMs,
    });
    this.fresh = fresh;
    this.informer.addIndex(VOLUME_INDEX, volumesOf);
  }

  /** The cached VM `key` if it is bound to `host`. Frozen: clone before changing. */
  boundTo(host: string, key: string): CachedObject<VirtualMachineObject> | undefined {
    return this.of(host, key);
  }

  /** The VMs bound to `host` whose disks name Volume `namespace/volume` (deleting ones included). */
  usersOf(host: string, namespace: string, volume: string): CachedObject<VirtualMachineObject>[] {
    return this.informer.byIndex(VOLUME_INDEX, `${namespace}/${volume}`).filter((o) => hostOf(o) === host);
  }

  /** "namespace/volume" of each Volume VM `obj` names. */
  static volumeKeys(obj: CachedObject<VirtualMachineObject>): string[] {
    return volumesOf(obj);
  }

  /** When the newest successful change-feed read started (ms): the cache holds every change before it. */
  freshSince(): number {
    return this.fresh.at;
  }
}
