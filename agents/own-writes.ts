/**
 * OwnWrites: the objects a reconciler wrote itself, per key. Until the change feed brings a write
 * back, the cache is older than what the agent knows, so current() prefers the agent's copy; and
 * when the feed does bring it back, isOwn() tells the echo apart from someone else's change (an
 * echo needs no reconcile).
 */
import { compareRv, type StoredObject } from '../store';
import type { CachedObject } from '../runtime';

/** resourceVersions remembered per key: enough for the writes still in flight through the feed */
const KEEP_RVS = 4;

export class OwnWrites<T extends StoredObject = StoredObject> {
  private readonly written = new Map<string, T>();
  private readonly rvs = new Map<string, string[]>();

  /** Records an object this agent wrote. */
  remember(key: string, obj: T): void {
    this.written.set(key, obj);
    const l = this.rvs.get(key) ?? [];
    l.push(obj.metadata.resourceVersion!);
    if (l.length > KEEP_RVS) l.shift();
    this.rvs.set(key, l);
  }

  /** True if `obj` is an object this agent wrote (its own echo through the change feed). */
  isOwn(key: string, obj: { metadata: { resourceVersion?: string } }): boolean {
    const l = this.rvs.get(key);
    return l !== undefined && obj.metadata.resourceVersion !== undefined && l.includes(obj.metadata.resourceVersion);
  }

  /** The newer of the cached object and the one this agent last wrote (same incarnation). */
  current(key: string, cached: CachedObject<T> | undefined): T | undefined {
    const mine = this.written.get(key);
    if (!cached) return undefined;
    if (mine && mine.metadata.uid === cached.metadata.uid && compareRv(mine.metadata.resourceVersion!, cached.metadata.resourceVersion!) > 0) return mine;
    this.written.delete(key);
    return cached;
  }

  /** Forgets a key (its object is gone, or no longer this agent's). */
  forget(key: string): void {
    this.written.delete(key);
    this.rvs.delete(key);
  }
}
