// The client-side to server-side apply upgrade, as kube-apiserver does it for the `kubectl` field
// manager: fields the last-applied-configuration annotation still describes are taken over.

import stableStringify from 'fast-json-stable-stringify';
import { FieldSet } from './field-set';
import { fieldsOf } from './fields';
import { isPlainObject, leafEqual, valueAt, type JsonObject } from './values';
import type { Obj } from './types';

/** The annotation `kubectl apply` (client-side) keeps its last applied manifest in. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * The only field manager that upgrades and keeps the annotation up to date: `kubectl apply
 * --server-side`'s default. Any other manager opts out (as in Kubernetes).
 */
export const UPGRADE_MANAGER = 'kubectl';

/** Kubernetes' limit on all annotations of an object together (keys and values, in bytes). */
export const TOTAL_ANNOTATIONS_LIMIT_BYTES = 256 * 1024;

function annotationsOf(obj: Obj | undefined): JsonObject | undefined {
  const annotations = obj?.metadata?.annotations;
  return isPlainObject(annotations) ? annotations : undefined;
}

/** The annotation's value when it is a non-empty string (what "the object has one" means). */
export function lastAppliedOf(obj: Obj | undefined): string | undefined {
  const value = annotationsOf(obj)?.[LAST_APPLIED_ANNOTATION];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The fields an apply by UPGRADE_MANAGER may take from their owners without a conflict: the
 * managed fields of the live object's last-applied configuration whose live value still equals
 * the annotation's (a field changed, added or removed since kubectl last applied it is not
 * kubectl's any more). Empty when there is no annotation, it is not a JSON object, or it was
 * written for another apiVersion. `defaults` (the schema defaulter) is run on the annotation's
 * object before comparing, so that defaults the server filled inside an atomic list (which
 * Kubernetes tracks per item) do not make the whole list differ.
 */
export function fieldsFromLastApplied<T extends Obj>(live: T, defaults?: (obj: T) => T): FieldSet {
  const raw = lastAppliedOf(live);
  if (raw === undefined) return new FieldSet();
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(raw);
  } catch {
    return new FieldSet();
  }
  if (!isPlainObject(lastApplied) || lastApplied.apiVersion !== live.apiVersion) return new FieldSet();
  const config = lastApplied as T;
  const compared = defaults ? defaults(structuredClone(config)) : config;
  return fieldsOf(config).filter((p) => leafEqual(valueAt(compared, p), valueAt(live, p)));
}

/**
 * The annotation's value for an applied manifest, encoded as Kubernetes encodes an unstructured
 * object (and kubectl its client-side annotation): keys sorted, `<`, `>`, `&`, U+2028 and U+2029
 * escaped, a final newline; the annotation itself left out.
 */
export function encodeLastApplied(applied: Obj): string {
  const copy = structuredClone(applied);
  const annotations = annotationsOf(copy);
  if (annotations) delete annotations[LAST_APPLIED_ANNOTATION];
  const json = stableStringify(copy).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${json}\n`;
}

/**
 * After a successful apply by UPGRADE_MANAGER: if the resulting object carries the annotation,
 * it now holds `applied` (in place), so that a later client-side `kubectl apply` computes its
 * three-way patch from what was really applied last. When the new value would push the
 * annotations over Kubernetes' total size limit, the annotation is dropped instead.
 */
export function updateLastApplied(obj: Obj, applied: Obj): void {
  const annotations = annotationsOf(obj);
  if (annotations === undefined || lastAppliedOf(obj) === undefined) return;
  annotations[LAST_APPLIED_ANNOTATION] = encodeLastApplied(applied);
  if (annotationsSize(annotations) > TOTAL_ANNOTATIONS_LIMIT_BYTES) delete annotations[LAST_APPLIED_ANNOTATION];
}

function annotationsSize(annotations: JsonObject): number {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    total += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
  }
  return total;
}
