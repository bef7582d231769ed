// Admission: checks and side effects that depend on an object's content, run by the resource
// handlers around every write (after authorization, before and after the store). Quota
// (api/quota/), the project-admin rule (api/auth/) and the network checks (api/networks/) plug in here.

import type { Context } from 'koa';
import type { StoredObject } from '../store';
import type { Target } from './target';

export interface AdmissionRequest {
  ctx: Context;
  target: Target;
  /** the object as it is (undefined for a create) */
  old?: StoredObject;
  /** the object about to be written */
  next: StoredObject;
  dryRun: boolean;
}

export interface DeletionRequest {
  ctx: Context;
  target: Target;
  /** the object as last seen */
  object: StoredObject;
  /** true: the object is gone; false: it is being finalized (deletionTimestamp set) */
  gone: boolean;
  dryRun: boolean;
}

/** What an admitted write must be told afterwards. */
export interface Admitted {
  /** the write succeeded with this result */
  commit(result: StoredObject): void | Promise<void>;
  /** the write did not happen */
  abort(): void | Promise<void>;
}

export interface Admission {
  /** May refuse (throws) or set fields of `next` (a finalizer); returns what to tell once the write is done, if anything. */
  admit(req: AdmissionRequest): Promise<Admitted | undefined>;
  /** After a delete. */
  deleted?(req: DeletionRequest): Promise<void>;
}

/** Runs several admissions in order; a refusal aborts the ones already admitted. */
export function chainAdmission(list: Admission[]): Admission {
  return {
    async admit(req) {
      const done: Admitted[] = [];
      try {
        for (const a of list) {
          const h = await a.admit(req);
          if (h) done.push(h);
        }
      } catch (err) {
        await Promise.all(done.map((h) => h.abort()));
        throw err;
      }
      if (done.length === 0) return undefined;
      return {
        commit: async (result) => { await Promise.all(done.map((h) => h.commit(result))); },
        abort: async () => { await Promise.all(done.map((h) => h.abort())); },
      };
    },
    async deleted(req) {
      for (const a of list) await a.deleted?.(req);
    },
  };
}

/**
 * Collects what a read-modify-write admitted over its attempts (a conflict re-runs the mutation):
 * the last attempt's admission is committed, the earlier ones aborted.
 */
export class AdmissionScope {
  private readonly handles: Admitted[] = [];

  constructor(private readonly admission: Admission | undefined) {}

  async admit(req: AdmissionRequest): Promise<void> {
    // A new attempt supersedes the previous one (released first, so the two never add up).
    await Promise.all(this.handles.splice(0).map((p) => p.abort()));
    const h = await this.admission?.admit(req);
    if (h) this.handles.push(h);
  }

  async done(result: StoredObject): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.commit(result)));
  }

  async failed(): Promise<void> {
    await Promise.all(this.handles.splice(0).map((h) => h.abort()));
  }

  /** Runs `write`, then commits or aborts what was admitted. */
  async around<T extends StoredObject>(write: () => Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await write();
    } catch (err) {
      await this.failed();
      throw err;
    }
    await this.done(out);
    return out;
  }
}
