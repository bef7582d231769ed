// trackUpdate(): field ownership for writes that are not apply (create, PUT, merge and JSON
// patches): the writer takes every field it changed; fields that disappeared lose their owners.

import { FieldSet, type FieldPath } from './field-set';
import { fieldsOf } from './fields';
import { readManagedFields, sameOwner, writeManagedFields, type EntryUpdate, type OwnedFields } from './managed-fields';
import { jsonEqual } from '../../kube/equal';
import { isPlainObject, leafEqual, valueAt } from './values';
import type { Obj, TrackUpdateOptions } from './types';

/**
 * Returns a copy of `after` (the object about to be stored; `before` is the live object, or
 * undefined on create) whose managedFields record the write by `opts.manager`:
 * - every managed leaf that was added or changed becomes owned by the manager's Update entry
 *   (for the subresource) and leaves every other entry, the manager's own Apply entry included;
 * - every owned field that no longer exists leaves its owner's set;
 * - entries left empty are dropped; an entry's time changes only when its set changes.
 * managedFields come from `before`, unless the client sent a non-empty list that differs from
 * it: that list replaces them, and a list with no valid entry (`[{}]`) clears them all without
 * recording this write, as in Kubernetes.
 */
export function trackUpdate<T extends Obj>(before: T | undefined, after: T, opts: TrackUpdateOptions): T {
  const result = structuredClone(after);
  const subresource = opts.subresource ?? '';
  const liveList = before?.metadata?.managedFields;
  const sentList = after.metadata?.managedFields;

  let entries: OwnedFields[];
  let previousList: unknown = liveList;
  if (Array.isArray(sentList) && sentList.length > 0 && !jsonEqual(sentList, liveList)) {
    entries = readManagedFields(sentList);
    previousList = sentList;
    if (entries.length === 0) {
      if (isPlainObject(result.metadata)) delete result.metadata.managedFields;
      return result;
    }
  } else {
    entries = readManagedFields(liveList);
  }

  const changed = fieldsOf(after, { subresource: opts.subresource })
    .filter((p) => !leafEqual(valueAt(before, p), valueAt(after, p)));
  const present = (p: FieldPath): boolean => valueAt(after, p) !== undefined;

  const own = entries.find((e) => sameOwner(e, opts.manager, 'Update', subresource));
  const updates: EntryUpdate[] = entries
    .filter((e) => e !== own)
    .map((e) => ({ ...e, previous: e, set: e.set.difference(changed).filter(present), writer: false }));
  updates.push({
    manager: opts.manager,
    operation: 'Update',
    subresource,
    apiVersion: typeof after.apiVersion === 'string' ? after.apiVersion : (own?.apiVersion ?? ''),
    set: (own?.set ?? new FieldSet()).union(changed).filter(present),
    previous: own,
    writer: true,
  });
  writeManagedFields(result, updates, opts.now, previousList);
  return result;
}
