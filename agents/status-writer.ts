/**
 * Writes an object's status, or its main resource, by the store's guaranteed update (read-modify-
 * write retried on conflict) without fighting other writers: starts from a cached copy (no read
 * when nothing changed), re-reads at SERIAL on a conflict; an object that is gone writes nothing.
 */
import type { ObjectKey, ObjectStore, StoredObject, UpdateOptions } from '../store';
import { ErrorCode, hasCode } from '../errors';
import { jsonEqual } from '../kube/equal';

/** undefined when the object is gone (NOT_FOUND), else what `write` returned. */
async function unlessGone<T>(write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (err) {
    if (hasCode(err, ErrorCode.NotFound)) return undefined;
    throw err;
  }
}

/**
 * `build` gets the latest object and returns the whole new status (changing only the fields the
 * agent owns), or undefined to write nothing.
 */
export function writeStatus<T extends StoredObject>(
  store: ObjectStore,
  key: ObjectKey,
  cached: T | undefined,
  build: (cur: T) => T['status'] | undefined,
  maxRetries = 8,
): Promise<T | undefined> {
  return unlessGone(() => store.guaranteedUpdate<T>(key, (cur) => {
    const next = build(cur);
    return next === undefined || jsonEqual(next, cur.status ?? {}) ? undefined : { ...cur, status: next };
  }, { status: true, cached, maxRetries }));
}

/**
 * Read-modify-write of the main resource (metadata/spec), e.g. finalizers; same conventions.
 * With `withStatus`, the status `mutate` returns is written in the same compare-and-set.
 */
export function writeObject<T extends StoredObject>(
  store: ObjectStore,
  key: ObjectKey,
  cached: T | undefined,
  mutate: (cur: T) => T | undefined,
  opts: Pick<UpdateOptions, 'withStatus'> = {},
  maxRetries = 8,
): Promise<T | undefined> {
  return unlessGone(() => store.guaranteedUpdate<T>(key, mutate, { withStatus: opts.withStatus, cached, maxRetries }));
}
