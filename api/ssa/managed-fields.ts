// Reading and writing metadata.managedFields: one entry per (manager, operation, subresource),
// sorted as Kubernetes sorts them, an entry reused untouched when its field set did not change.

import { FieldSet } from './field-set';
import { fromFieldsV1, toFieldsV1 } from './fields-v1';
import { jsonEqual } from '../../kube/equal';
import { isPlainObject, setOwn, type JsonObject } from './values';
import type { ManagedFieldsEntry, Obj, Operation } from './types';

/** A decoded entry: `raw` is the entry as stored (not necessarily well-formed), `set` its fields. */
export interface OwnedFields {
  manager: string;
  operation: Operation;
  subresource: string;
  apiVersion: string;
  time: string;
  set: FieldSet;
  raw: JsonObject;
}

export function sameOwner(a: { manager: string; operation: Operation; subresource: string }, manager: string, operation: Operation, subresource: string): boolean {
  return a.manager === manager && a.operation === operation && a.subresource === subresource;
}

/**
 * Decodes managedFields. Entries that are not objects, lack a manager or an Apply/Update
 * operation, or are not FieldsV1 are dropped; duplicates of one owner are merged into the first.
 */
export function readManagedFields(list: unknown): OwnedFields[] {
  if (!Array.isArray(list)) return [];
  const out: OwnedFields[] = [];
  for (const item of list) {
    if (!isPlainObject(item)) continue;
    const { manager, operation, fieldsType } = item;
    if (typeof manager !== 'string' || (operation !== 'Apply' && operation !== 'Update')) continue;
    if (fieldsType !== undefined && fieldsType !== 'FieldsV1') continue;
    const subresource = typeof item.subresource === 'string' ? item.subresource : '';
    const set = fromFieldsV1(item.fieldsV1);
    const dup = out.find((e) => sameOwner(e, manager, operation, subresource));
    if (dup) {
      dup.set = dup.set.union(set);
      dup.raw = { ...dup.raw, fieldsV1: toFieldsV1(dup.set) };
      continue;
    }
    out.push({
      manager,
      operation,
      subresource,
      apiVersion: typeof item.apiVersion === 'string' ? item.apiVersion : '',
      time: typeof item.time === 'string' ? item.time : '',
      set,
      raw: item,
    });
  }
  return out;
}

/** The desired state of one entry after a write. */
export interface EntryUpdate {
  manager: string;
  operation: Operation;
  subresource: string;
  apiVersion: string;
  set: FieldSet;
  /** the entry before the write, if there was one */
  previous?: OwnedFields;
  /** true for the entry of the manager making the write; other entries keep their time */
  writer: boolean;
}

/**
 * Encodes an entry. Only the writer's entry moves its time to `now`, and only when its field
 * set changed (or it is new); an entry whose set and apiVersion are unchanged is returned
 * exactly as it was stored.
 */
export function encodeEntry(update: EntryUpdate, now: string): ManagedFieldsEntry {
  const prev = update.previous;
  const sameSet = prev !== undefined && prev.set.equals(update.set);
  if (sameSet && prev.apiVersion === update.apiVersion && isWellFormed(prev.raw)) return prev.raw;
  const entry: ManagedFieldsEntry = {
    manager: update.manager,
    operation: update.operation,
    apiVersion: update.apiVersion,
    time: prev !== undefined && prev.time !== '' && (sameSet || !update.writer) ? prev.time : now,
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(update.set),
  };
  if (update.subresource !== '') entry.subresource = update.subresource;
  return entry;
}

/** An entry as stored that can be written back as it is (its subresource is kept as stored). */
function isWellFormed(raw: JsonObject): raw is JsonObject & ManagedFieldsEntry {
  return typeof raw.manager === 'string' && (raw.operation === 'Apply' || raw.operation === 'Update')
    && typeof raw.apiVersion === 'string' && typeof raw.time === 'string' && raw.fieldsType === 'FieldsV1'
    && isPlainObject(raw.fieldsV1);
}

function seconds(time: string): number {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Kubernetes' order: operation (Apply first), time, manager, apiVersion, subresource. */
export function compareEntries(p: ManagedFieldsEntry, q: ManagedFieldsEntry): number {
  return compareStrings(p.operation, q.operation)
    || seconds(p.time) - seconds(q.time)
    || compareStrings(p.manager, q.manager)
    || compareStrings(p.apiVersion, q.apiVersion)
    || compareStrings(p.subresource ?? '', q.subresource ?? '');
}

/**
 * Writes entries into `obj.metadata.managedFields` in place: empty sets are dropped, the rest
 * sorted; no entries at all removes the field. The previous array is kept when nothing changed.
 */
export function writeManagedFields(obj: Obj, updates: EntryUpdate[], now: string, previous: unknown): void {
  const entries = updates.filter((u) => !u.set.isEmpty()).map((u) => encodeEntry(u, now)).sort(compareEntries);
  let meta = obj.metadata as JsonObject | undefined;
  if (!isPlainObject(meta)) {
    if (entries.length === 0) return;
    meta = {};
    setOwn(obj as JsonObject, 'metadata', meta);
  }
  if (entries.length === 0) {
    delete meta.managedFields;
  } else {
    meta.managedFields = structuredClone(Array.isArray(previous) && jsonEqual(previous, entries) ? previous : entries);
  }
}

/** A copy of `obj` without metadata.managedFields (e.g. to compare objects or print them). */
export function stripManagedFields<T extends Obj>(obj: T): T {
  const out = structuredClone(obj);
  if (isPlainObject(out.metadata)) delete out.metadata.managedFields;
  return out;
}
