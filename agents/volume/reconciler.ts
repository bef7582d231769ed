/**
 * The Volume reconciler of one host: the storage of Volume objects on this host and their status.
 *
 * A Volume's storage (libvirt volume `stratus.<ns>.<name>.vol`) lives on one host. That host is
 * decided by compare-and-set before anything is created (claim(): status.host and the agent's
 * finalizer in one write), so two hosts never both create it: by the VM reconciler when a VM
 * bound here is the first to use the Volume, or here at once when spec.host pins the Volume to
 * this host. The Volume owns the storage: deleting a VM never deletes it.
 *
 * reconcile("namespace/name"), for a Volume held here: create the storage if it is missing,
 * write the status (phase, host, pool, path, capacity, allocation, usedBy, Ready, observedGeneration)
 * by compare-and-set. A deleted Volume (deletionTimestamp) stays while a VM bound here uses it
 * (Terminating, Ready=False InUse naming the VMs); once none does, its storage is deleted and the
 * finalizer released, so the object goes. A Volume that was never materialised has no
 * finalizer and is deleted by the API at once.
 */
import type { Logger } from 'pino';
import type { ObjectStore, VolumeObject } from '../../store';
import { splitKey, systemClock, type Clock, type ReconcileContext, type ReconcileResult } from '../../runtime';
import type { PoolCache } from '../host/pools';
import type { HostSource } from '../host-source';
import { KeyedMutex } from '../keyed-mutex';
import { volumeObjectVolumeName, VOLUME_FINALIZER } from '../names';
import { OwnWrites } from '../own-writes';
import { writeObject, writeStatus } from '../status-writer';
import { isProblem, resolveVolumeStorage, volumeHost, type HostContext, type Problem } from '../vm/desired';
import type { RefResolver } from '../vm/refs';
import type { VmSource } from '../vm/source';
import { volumeStatus, type VolumeFacts } from './status';

export interface VolumeReconcilerOptions {
  host: string;
  store: ObjectStore;
  pools: PoolCache;
  /** the Volumes held by (or pinned to) the process's hosts */
  volumes: HostSource<VolumeObject>;
  /** the VMs bound here: who uses a Volume */
  vms: VmSource;
  /** the Images Volumes are cloned from */
  refs: RefResolver;
  hostContext: () => HostContext;
  /** true while the lease is not held: create nothing */
  fenced: () => boolean;
  clock?: Clock;
  /** how soon a Volume that cannot be created yet is retried; default 15 000 ms */
  problemRetryMs?: number;
  logger?: Logger;
}

const KIND = 'Volume';

export class VolumeReconciler {
  private readonly clock: Clock;
  private readonly own = new OwnWrites<VolumeObject>();
  /** per Volume: claiming it, and deciding to delete its storage, never interleave */
  private readonly locks = new KeyedMutex();

  constructor(private readonly o: VolumeReconcilerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** True if this host holds Volume `v`'s storage (or is about to: claimed, not yet created). */
  private holds(v: Readonly<VolumeObject>): boolean {
    return v.status?.host === this.o.host && (v.metadata.finalizers ?? []).includes(VOLUME_FINALIZER);
  }

  /** The newest Volume `key` this agent knows of, if it concerns this host (cache or own write). */
  latest(key: string): VolumeObject | undefined {
    return this.own.current(key, this.o.volumes.of(this.o.host, key));
  }

  /** True if `obj` is this agent's own write coming back through the change feed. */
  isOwnWrite(key: string, obj: { metadata: { resourceVersion?: string } }): boolean {
    return this.own.isOwn(key, obj);
  }

  /**
   * Makes Volume `namespace/name` this host's before its storage is created here: status.host,
   * pool and the agent's finalizer in one compare-and-set. Undefined when the Volume is (now)
   * this host's; a Problem when it cannot be (gone, on another host, being deleted).
   */
  claim(namespace: string, name: string): Promise<Problem | undefined> {
    const key = `${namespace}/${name}`;
    const storeKey = { kind: KIND, namespace, name };
    return this.locks.run(key, async () => {
      const known = this.latest(key);
      if (known && this.holds(known) && !known.metadata.deletionTimestamp) return undefined;
      let refused: Problem | undefined;
      let wrote = false;
      const out = await writeObject<VolumeObject>(this.o.store, storeKey, undefined, (cur) => {
        refused = this.refusal(namespace, name, cur);
        wrote = false;
        if (refused || this.holds(cur)) return undefined;
        wrote = true;
        cur.metadata.finalizers = [...(cur.metadata.finalizers ?? []), VOLUME_FINALIZER];
        cur.status = volumeStatus(cur.status ?? {}, this.facts(namespace, cur, this.poolOf(cur), undefined, []), this.clock.now());
        return cur;
      }, { withStatus: true });
      if (!out) return { reason: 'VolumeNotFound', message: `Volume ${namespace}/${name} not found`, terminal: false };
      if (refused) return refused;
      if (wrote) {
        this.own.remember(key, out);
        this.o.logger?.info({ volume: key }, 'claimed a Volume for this host');
      }
      return undefined;
    });
  }

  /** Why this host may not claim Volume `cur`, if it may not. */
  private refusal(namespace: string, name: string, cur: VolumeObject): Problem | undefined {
    const elsewhere = volumeHost(cur);
    if (elsewhere && elsewhere !== this.o.host) {
      return { reason: 'VolumeOnOtherHost', message: `Volume ${namespace}/${name} is on host ${elsewhere}, not ${this.o.host}`, terminal: true };
    }
    if (cur.metadata.deletionTimestamp && !this.holds(cur)) {
      return { reason: 'VolumeTerminating', message: `Volume ${namespace}/${name} is being deleted`, terminal: false };
    }
    return undefined;
  }

  private facts(namespace: string, v: VolumeObject, pool: string, storage: VolumeFacts['storage'], users: string[], problem?: Problem): VolumeFacts {
    return {
      namespace, host: this.o.host, pool, generation: v.metadata.generation ?? 0,
      deleting: v.metadata.deletionTimestamp !== undefined, storage, users, problem,
    };
  }

  /** The pool of a Volume's storage: where it was created (status.pool), else where it is to be. */
  private poolOf(v: VolumeObject): string {
    return v.status?.pool ?? v.spec.pool ?? this.o.hostContext().pool;
  }

  /** Names of the VMs bound here that use Volume `namespace/name`. */
  private users(namespace: string, name: string): string[] {
    return this.o.vms.usersOf(this.o.host, namespace, name).map((vm) => vm.metadata.name).sort();
  }

  async reconcile(key: string, ctx?: Pick<ReconcileContext, 'logger'>): Promise<ReconcileResult> {
    const log = ctx?.logger ?? this.o.logger;
    const { namespace, name } = splitKey(key);
    let vol = this.latest(key);
    if (!vol) {
      this.own.forget(key);
      return {};
    }
    if (!this.holds(vol)) {
      // Pinned here (spec.host) and not materialised yet, or ours without our finalizer (an
      // operator removed it): claim it now, then go on with the claimed object.
      if (vol.metadata.deletionTimestamp || volumeHost(vol) !== this.o.host || this.o.fenced()) return {};
      const refused = await this.claim(namespace, name);
      if (refused) {
        log?.warn({ reason: refused.reason }, refused.message);
        return {};
      }
      vol = this.latest(key);
      if (!vol) return {};
    }

    const pool = this.poolOf(vol);
    const volumeName = volumeObjectVolumeName(namespace, name);
    if (vol.metadata.deletionTimestamp) return this.finish(key, vol, pool, log);

    let storage = await this.o.pools.volumeInfo(pool, volumeName);
    let problem: Problem | undefined;
    if (!storage && !this.o.fenced()) {
      // Pinned Volumes are created here; one a VM claimed is normally created by that VM's
      // reconcile, and whichever comes first creates it (the other finds it there).
      const spec = vol.spec;
      const images = await this.o.refs.images(namespace, spec.image ? [spec.image] : []);
      const s = resolveVolumeStorage(namespace, name, vol, images, this.o.hostContext());
      if (isProblem(s)) {
        problem = s;
      } else {
        try {
          await this.o.pools.createVolume(s.pool, s.xml);
          log?.info({ pool: s.pool, volume: s.name }, 'created the storage of a Volume');
        } catch (err) {
          problem = { reason: 'CreateVolumeFailed', message: `creating ${s.pool}/${s.name}: ${(err as Error).message}`, terminal: false };
        }
        storage = await this.o.pools.volumeInfo(pool, volumeName);
      }
    }
    await this.writeStatus(key, vol, this.facts(namespace, vol, pool, storage, this.users(namespace, name), problem));
    if (problem && !problem.terminal) return { requeueAfterMs: this.o.problemRetryMs ?? 15_000 };
    return {};
  }

  /**
   * A deleted Volume: while VMs bound here use it, report them; once none does, delete its
   * storage and release the finalizer (the object then goes). Under the Volume's lock, so no
   * claim for a new VM slips in between the check and the deletion.
   */
  private finish(key: string, vol: VolumeObject, pool: string, log: Logger | undefined): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    return this.locks.run(key, async () => {
      const users = this.users(namespace, name);
      if (users.length > 0) {
        const storage = await this.o.pools.volumeInfo(pool, volumeObjectVolumeName(namespace, name));
        await this.writeStatus(key, vol, this.facts(namespace, vol, pool, storage, users));
        return {};
      }
      await this.o.pools.deleteVolume(pool, volumeObjectVolumeName(namespace, name));
      const out = await writeObject(this.o.store, { kind: KIND, namespace, name }, vol, (cur) => {
        if (cur.metadata.uid !== vol.metadata.uid || !this.holds(cur)) return undefined;
        cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== VOLUME_FINALIZER);
        return cur;
      });
      // Remembered (deleting, no finalizer): a claim racing with the feed sees the Volume going.
      if (out) this.own.remember(key, out);
      log?.info({ pool }, 'deleted the storage of a deleted Volume; finalizer released');
      return {};
    });
  }

  private async writeStatus(key: string, vol: VolumeObject, facts: VolumeFacts): Promise<void> {
    const uid = vol.metadata.uid;
    const out = await writeStatus(this.o.store, { kind: KIND, namespace: facts.namespace, name: vol.metadata.name }, vol, (cur) => {
      if (cur.metadata.uid !== uid || !this.holds(cur)) return undefined; // another incarnation, or no longer ours
      // Deleted meanwhile: never report it Available.
      return volumeStatus(cur.status ?? {}, { ...facts, deleting: facts.deleting || cur.metadata.deletionTimestamp !== undefined }, this.clock.now());
    });
    if (out && out !== vol) this.own.remember(key, out);
  }
}
