/**
 * Writes an object's status by compare-and-set without fighting other writers: `build` gets the
 * latest object and returns the whole new status (changing only the fields the agent owns), or
 * undefined to write nothing. Starts from a cached copy (no read when nothing changed), and on a
 * conflict re-reads at SERIAL and rebuilds.
 */
import stableStringify from 'fast-json-stable-stringify';
import type { ObjectKey, ObjectStore, StoredObject, UpdateOptions } from '../store';

export function jsonEqual(a: unknown, b: unknown): boolean {
  return stableStringify(a ?? null) === stableStringify(b ?? null);
}

export async function writeStatus(
  store: ObjectStore,
  key: ObjectKey,
  cached: StoredObject | undefined,
  build: (cur: StoredObject) => Record<string, unknown> | undefined,
  maxRetries = 8,
): Promise<StoredObject | undefined> {
  let cur = cached ?? (await store.get(key, { serial: true }));
  for (let attempt = 0; ; attempt++) {
    if (!cur) return undefined;
    const next = build(cur);
    if (next === undefined || jsonEqual(next, cur.status ?? {})) return cur;
    try {
      return await store.updateStatus({ ...cur, status: next }, { current: cur });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NOT_FOUND') return undefined;
      if (code !== 'CONFLICT' || attempt >= maxRetries) throw err;
      cur = await store.get(key, { serial: true });
    }
  }
}

/**
 * Read-modify-write of the main resource (metadata/spec), e.g. finalizers; same conventions.
 * With `withStatus`, the status `mutate` returns is written in the same compare-and-set.
 */
export async function writeObject(
  store: ObjectStore,
  key: ObjectKey,
  cached: StoredObject | undefined,
  mutate: (cur: StoredObject) => StoredObject | undefined,
  opts: Pick<UpdateOptions, 'withStatus'> = {},
  maxRetries = 8,
): Promise<StoredObject | undefined> {
  let cur = cached ?? (await store.get(key, { serial: true }));
  for (let attempt = 0; ; attempt++) {
    if (!cur) return undefined;
    const next = mutate(structuredClone(cur));
    if (next === undefined) return cur;
    try {
      return await store.update(next, { ...opts, current: cur });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NOT_FOUND') return undefined;
      if (code !== 'CONFLICT' || attempt >= maxRetries) throw err;
      cur = await store.get(key, { serial: true });
    }
  }
}
