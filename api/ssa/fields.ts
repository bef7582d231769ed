// Which fields are managed at all, and the managed leaf fields of an object (fieldsOf).
// Identity and server-written metadata are never owned; status is owned only through /status.

import { FieldSet, type FieldPath } from './field-set';
import { hasOwn, isPlainObject, setOwn, type JsonObject } from './values';
import type { Obj, Subresource } from './types';

/** Top-level fields the main resource never manages. */
const UNMANAGED_TOP = new Set(['apiVersion', 'kind', 'status']);

/** metadata fields that identify the object or that only the server writes. */
const UNMANAGED_METADATA = new Set([
  'name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'managedFields',
]);

/** Server-written metadata that a manifest may carry (from `kubectl get -o yaml`) but never sets. */
const SERVER_METADATA = [...UNMANAGED_METADATA].filter((k) => k !== 'name' && k !== 'namespace');

export interface ScopeOptions {
  subresource?: Subresource;
}

/** Whether `path` can be owned by a manager writing the main resource or the given subresource. */
export function isManagedPath(path: FieldPath, opts: ScopeOptions = {}): boolean {
  if (path.length === 0) return false;
  if (opts.subresource === 'status') return path[0] === 'status';
  if (UNMANAGED_TOP.has(path[0])) return false;
  if (path[0] === 'metadata') return path.length >= 2 && !UNMANAGED_METADATA.has(path[1]);
  return true;
}

/**
 * The managed leaf fields of an object: every scalar, null, array (lists are atomic: one field
 * owns the whole list) and empty object, reached through non-empty objects. Map-typed fields
 * (labels, annotations, placement.hostSelector) are objects, so each key is its own field.
 */
export function fieldsOf(obj: unknown, opts: ScopeOptions = {}): FieldSet {
  const set = new FieldSet();
  const walk = (value: unknown, path: string[]): void => {
    if (isPlainObject(value) && (Object.keys(value).length > 0 || path.length === 0)) {
      for (const key of Object.keys(value)) {
        if (value[key] !== undefined) walk(value[key], [...path, key]);
      }
    } else if (isManagedPath(path, opts)) {
      set.add(path);
    }
  };
  walk(obj, []);
  return set;
}

/**
 * The object an apply creates: the manifest without nulls, without status and without the
 * metadata only the server writes (uid, resourceVersion, managedFields, ...).
 */
export function objectFromConfig<T extends Obj>(config: T): T {
  const out = structuredClone(config) as JsonObject;
  delete out.status;
  const meta = out.metadata;
  if (isPlainObject(meta)) {
    for (const key of SERVER_METADATA) if (hasOwn(meta, key)) delete meta[key];
  } else {
    setOwn(out, 'metadata', {});
  }
  return out as T;
}
