// Remembers Projects for a few seconds, so admission of namespaced objects, authorization (members
// and roles) and quota admission (the quota) do not read the Project on every request.

import type { ObjectStore, StoredObject } from '../store';
import { systemClock, type Clock } from '../runtime';

export class ProjectCache {
  private readonly known = new Map<string, { at: number; project: StoredObject }>();
  constructor(private readonly store: ObjectStore, private readonly ttlMs = 5000, private readonly clock: Clock = systemClock) {}

  async exists(name: string): Promise<boolean> {
    const p = await this.lookup(name);
    return !!p && !p.metadata.deletionTimestamp;
  }

  /** The Project as read at most ttlMs ago (a missing Project is never cached). Do not mutate it. */
  async lookup(name: string): Promise<StoredObject | undefined> {
    const seen = this.known.get(name);
    if (seen !== undefined && this.clock.now() - seen.at < this.ttlMs) return seen.project;
    const p = await this.store.get({ kind: 'Project', namespace: '', name });
    if (p) {
      if (this.known.size >= 50_000) this.known.delete(this.known.keys().next().value as string);
      this.known.set(name, { at: this.clock.now(), project: Object.freeze(p) });
    } else {
      this.known.delete(name);
    }
    return p;
  }

  /** Forgets a Project this frontend just changed or deleted. */
  forget(name: string): void {
    this.known.delete(name);
  }
}
