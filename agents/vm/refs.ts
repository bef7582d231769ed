/**
 * Looks up the Images and Volumes a VM's disks name, through a short-lived cache shared by the
 * hosts of the process (a VM reconciled every few seconds does not re-read its Image each time).
 */
import type { ObjectStore } from '../../store';
import type { Image, Volume, VirtualMachineSpec } from '../../schemas/types.gen';
import { systemClock, type Clock } from '../../runtime';
import { referencedNames, volumeImageNames, type ResolvedRefs } from './desired';

export interface RefResolverOptions {
  store: ObjectStore;
  clock?: Clock;
  /** how long a looked-up object is reused; default 5000 ms */
  ttlMs?: number;
}

export class RefResolver {
  private readonly cache = new Map<string, { at: number; value: unknown }>();
  private readonly clock: Clock;
  private readonly ttl: number;

  constructor(private readonly o: RefResolverOptions) {
    this.clock = o.clock ?? systemClock;
    this.ttl = o.ttlMs ?? 5000;
  }

  private async get<T>(kind: string, namespace: string, name: string): Promise<T | undefined> {
    const k = `${kind}/${namespace}/${name}`;
    const now = this.clock.now();
    const hit = this.cache.get(k);
    if (hit && now - hit.at < this.ttl) return hit.value as T | undefined;
    const value = (await this.o.store.get({ kind, namespace, name })) as T | undefined;
    this.cache.set(k, { at: now, value });
    if (this.cache.size > 10_000) {
      for (const [key, v] of this.cache) if (now - v.at >= this.ttl) this.cache.delete(key);
    }
    return value;
  }

  /** Forgets cached look-ups (e.g. after an Image was created). */
  invalidate(): void {
    this.cache.clear();
  }

  /** Images of a project by name (undefined: not found). */
  async images(namespace: string, names: readonly string[], into: Record<string, Image | undefined> = {}): Promise<Record<string, Image | undefined>> {
    await Promise.all(names.map(async (n) => (into[n] = await this.get<Image>('Image', namespace, n))));
    return into;
  }

  async resolve(namespace: string, spec: VirtualMachineSpec): Promise<ResolvedRefs> {
    const names = referencedNames(spec);
    const images: Record<string, Image | undefined> = {};
    const volumes: Record<string, Volume | undefined> = {};
    await Promise.all([
      this.images(namespace, names.images, images),
      ...names.volumes.map(async (n) => (volumes[n] = await this.get<Volume>('Volume', namespace, n))),
    ]);
    await this.images(namespace, volumeImageNames(volumes).filter((n) => !(n in images)), images);
    return { images, volumes };
  }
}
