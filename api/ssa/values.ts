// Reading and writing JSON values by field path, and the equality rules field management uses.
// Own properties only, so keys such as `__proto__` or `constructor` are plain data here.

import { jsonEqual } from '../../kube/equal';
import type { FieldPath } from './field-set';

export type JsonObject = Record<string, unknown>;

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function hasOwn(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** Sets an own data property, even for a key named `__proto__`. */
export function setOwn(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** The value at `path`, or undefined when some step is missing or not an object. */
export function valueAt(root: unknown, path: FieldPath): unknown {
  let cur: unknown = root;
  for (const segment of path) {
    if (!isPlainObject(cur) || !hasOwn(cur, segment)) return undefined;
    cur = cur[segment];
  }
  return cur;
}

/**
 * Equality of one owned field. Two objects are equal whatever they hold: owning an object
 * field (an empty `{}` in a manifest) means owning its existence, its keys are fields of their own.
 */
export function leafEqual(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (isPlainObject(a) && isPlainObject(b)) return true;
  return jsonEqual(a, b);
}

/**
 * Writes `value` at `path` in place, creating (or replacing non-object) intermediate steps.
 * An object value only ensures an object exists there (keys below are separate fields); any
 * other value replaces what was there unless it is already equal, to keep the object
 * byte-identical when nothing changes.
 */
export function mergeLeaf(root: JsonObject, path: FieldPath, value: unknown): void {
  let cur = root;
  for (const segment of path.slice(0, -1)) {
    let next = hasOwn(cur, segment) ? cur[segment] : undefined;
    if (!isPlainObject(next)) {
      next = {};
      setOwn(cur, segment, next);
    }
    cur = next as JsonObject;
  }
  const last = path[path.length - 1];
  const existing = hasOwn(cur, last) ? cur[last] : undefined;
  if (isPlainObject(value)) {
    if (!isPlainObject(existing)) setOwn(cur, last, {});
  } else if (existing === undefined || !jsonEqual(existing, value)) {
    setOwn(cur, last, structuredClone(value));
  }
}

/**
 * Deletes the field at `path` in place, then deletes the objects above it that this left
 * empty, stopping at the first one `keep` protects (or at a top-level field).
 */
export function removeField(root: JsonObject, path: FieldPath, keep: (path: FieldPath) => boolean): void {
  const chain: JsonObject[] = [root];
  for (const segment of path.slice(0, -1)) {
    const next = valueAt(chain[chain.length - 1], [segment]);
    if (!isPlainObject(next)) return;
    chain.push(next);
  }
  const parent = chain[chain.length - 1];
  const last = path[path.length - 1];
  if (!hasOwn(parent, last)) return;
  delete parent[last];
  for (let depth = path.length - 1; depth >= 2; depth--) {
    const obj = chain[depth];
    const objPath = path.slice(0, depth);
    if (Object.keys(obj).length > 0 || keep(objPath)) return;
    delete chain[depth - 1][path[depth - 1]];
  }
}

/** A copy without null values in objects (a null in a manifest means "not set"); arrays are kept as they are. */
export function withoutNulls<T>(value: T): T {
  if (!isPlainObject(value)) return structuredClone(value);
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === null || v === undefined) continue;
    setOwn(out, key, withoutNulls(v));
  }
  return out as T;
}
