// Remembers which Projects exist for a few seconds, so admission of namespaced objects does not
// read the Project on every request.

import type { ObjectStore } from '../store';

export class ProjectCache {
  private readonly known = new Map<string, number>();
  constructor(private readonly store: ObjectStore, private readonly ttlMs = 5000, private readonly clock: () => number = Date.now) {}

  async exists(name: string): Promise<boolean> {
    const seen = this.known.get(name);
    if (seen !== undefined && this.clock() - seen < this.ttlMs) return true;
    const p = await this.store.get({ kind: 'Project', namespace: '', name });
    if (p && !p.metadata.deletionTimestamp) {
      this.known.set(name, this.clock());
      return true;
    }
    this.known.delete(name);
    return false;
  }
}
