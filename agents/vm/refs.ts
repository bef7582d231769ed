/**
 * Looks up the Images and Volumes a VM's disks name, through a short-lived cache shared by the
 * hosts of the process (a VM reconciled every few seconds does not re-read its Image each time).
 */
import type { ImageObject, ObjectStore, StoredObject, VolumeObject } from '../../store';
import type { VirtualMachineSpec } from '../../schemas/types.gen';
import { systemClock, type Clock } from '../../runtime';
import { referencedNames, volumeImageNames, type ResolvedRefs } from './desired';

export interface RefResolverOptions {
  store: ObjectStore;
  clock?: Clock;
  /** how long a looked-up object is reused; default 5000 ms */
  ttlMs?: number;
}

/** Look-ups of one kind: key → when read, and what was found. */
type LookupCache<T> = Map<string, { at: number; value: T | undefined }>;

export class RefResolver {
  private readonly imageCache: LookupCache<ImageObject> = new Map();
  private readonly volumeCache: LookupCache<VolumeObject> = new Map();
  private readonly clock: Clock;
  private readonly ttl: number;

  constructor(private readonly o: RefResolverOptions) {
    this.clock = o.clock ?? systemClock;
    this.ttl = o.ttlMs ?? 5000;
  }

  private async get<T extends StoredObject>(cache: LookupCache<T>, kind: string, namespace: string, name: string): Promise<T | undefined> {
    const k = `${namespace}/${name}`;
    const now = this.clock.now();
    const hit = cache.get(k);
    if (hit && now - hit.at < this.ttl) return hit.value;
    const value = await this.o.store.get<T>({ kind, namespace, name });
    cache.set(k, { at: now, value });
    if (cache.size > 10_000) {
      for (const [key, v] of cache) if (now - v.at >= this.ttl) cache.delete(key);
    }
    return value;
  }

  /** Forgets cached look-ups (e.g. after an Image was created). */
  invalidate(): void {
    this.imageCache.clear();
    this.volumeCache.clear();
  }

  /** Images of a project by name (undefined: not found). */
  async images(namespace: string, names: readonly string[], into: Record<string, ImageObject | undefined> = {}): Promise<Record<string, ImageObject | undefined>> {
    await Promise.all(names.map(async (n) => (into[n] = await this.get(this.imageCache, 'Image', namespace, n))));
    return into;
  }

  async resolve(namespace: string, spec: VirtualMachineSpec): Promise<ResolvedRefs> {
    const names = referencedNames(spec);
    const images: Record<string, ImageObject | undefined> = {};
    const volumes: Record<string, VolumeObject | undefined> = {};
    await Promise.all([
      this.images(namespace, names.images, images),
      ...names.volumes.map(async (n) => (volumes[n] = await this.get(this.volumeCache, 'Volume', namespace, n))),
    ]);
    await this.images(namespace, volumeImageNames(volumes).filter((n) => !(n in images)), images);
    return { images, volumes };
  }
}
