// Object keys of the controller runtime: "namespace/name" for project objects, "name" for
// cluster-scoped ones (client-go's MetaNamespaceKeyFunc).

import type { ObjectKey, StoredObject } from './types';

export function objectKey(obj: Pick<StoredObject, 'metadata'>): string {
  const ns = obj.metadata.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : obj.metadata.name;
}

/** Splits a key back into namespace ('' when cluster-scoped) and name. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The store address of `key` for `kind`. */
export function storeKey(kind: string, key: string): ObjectKey {
  return { kind, ...splitKey(key) };
}
