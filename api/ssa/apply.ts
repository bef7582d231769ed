// apply(): server-side apply of a manifest onto the live object, with field ownership and
// conflicts as in Kubernetes' structured-merge-diff (lists atomic; see index.ts for the gaps).

import { comparePaths, formatPath, FieldSet, type FieldPath } from './field-set';
import { fieldsOf, objectFromConfig } from './fields';
import { fieldsFromLastApplied, updateLastApplied, UPGRADE_MANAGER } from './last-applied';
import { readManagedFields, sameOwner, writeManagedFields, type EntryUpdate, type OwnedFields } from './managed-fields';
import { leafEqual, mergeLeaf, removeField, valueAt, withoutNulls, type JsonObject } from './values';
import type { ApplyOptions, ApplyResult, Conflict, Obj } from './types';

/**
 * Applies `applied` (the manifest) as `opts.manager` onto `current` (undefined: the object does
 * not exist yet). Never mutates its inputs. With conflicts and `force: false` nothing changes:
 * `object` is a copy of `current` and the caller answers 409 (see formatConflictMessage).
 *
 * 1. The applier's new field set is every managed leaf of the manifest (fieldsOf).
 * 2. Every such leaf is merged into the live object (objects deeply, lists and scalars replaced).
 * 3. Fields the applier applied last time but not now are removed, unless another entry still
 *    owns them (or something below them). Fields no Apply entry owned are never removed, so
 *    server defaults and fields written by controllers stay.
 * 4. A field another manager owns whose value this would change is a conflict; an equal value
 *    is shared. With force the other managers lose those fields.
 * 5. An entry's time changes only when its field set does: re-applying the same manifest gives
 *    a deep-equal object, identical managedFields included.
 * 6. The client-side apply upgrade (main resource, manager `kubectl` only, as kube-apiserver's
 *    lastAppliedManager/lastAppliedUpdater): conflicts on fields the live object's
 *    last-applied-configuration still describes are not reported; when they were the only
 *    ones, the apply is forced. After a successful apply the annotation, if present, holds the
 *    applied manifest.
 */
export function apply<T extends Obj>(current: T | undefined, applied: T, opts: ApplyOptions<T>): ApplyResult<T> {
  const subresource = opts.subresource ?? '';
  const scope = { subresource: opts.subresource };
  const config = withoutNulls(applied);
  const newSet = fieldsOf(config, scope);
  const apiVersion = stringOr(config.apiVersion, stringOr(current?.apiVersion, ''));
  const upgrades = opts.manager === UPGRADE_MANAGER && opts.subresource === undefined;

  if (current === undefined) {
    if (opts.subresource === 'status') {
      throw new Error('server-side apply of the status subresource needs an existing object');
    }
    let created = objectFromConfig(config);
    if (opts.defaults) created = opts.defaults(created);
    writeManagedFields(created, [{ manager: opts.manager, operation: 'Apply', subresource, apiVersion, set: newSet, writer: true }], opts.now, undefined);
    if (upgrades) updateLastApplied(created, applied);
    return { object: created, conflicts: [] };
  }

  const entries = readManagedFields(current.metadata?.managedFields);
  const own = entries.find((e) => sameOwner(e, opts.manager, 'Apply', subresource));
  const others = entries.filter((e) => e !== own);
  const oldSet = own?.set ?? new FieldSet();

  let merged = structuredClone(current) as T;
  for (const path of newSet) mergeLeaf(merged as JsonObject, path, valueAt(config, path));

  const ownedElsewhere = (path: FieldPath): boolean => others.some((e) => e.set.has(path));
  for (const path of oldSet.difference(newSet).paths()) {
    if (ownedElsewhere(path) || others.some((e) => e.set.hasDescendantOf(path)) || newSet.hasDescendantOf(path)) continue;
    removeField(merged as JsonObject, path, (p) => newSet.has(p) || ownedElsewhere(p));
  }
  if (opts.defaults) merged = opts.defaults(merged);

  const conflicts = findConflicts(current, merged, others, opts.manager);
  if (conflicts.length > 0 && !opts.force) {
    const allowed = upgrades ? fieldsFromLastApplied(current, opts.defaults) : new FieldSet();
    const refused = conflicts.filter((c) => !allowed.has(c.path));
    if (refused.length > 0) return { object: structuredClone(current), conflicts: refused.map((c) => c.conflict) };
  }

  const present = (p: FieldPath): boolean => valueAt(merged, p) !== undefined;
  const updates: EntryUpdate[] = others.map((e) => {
    const lost = new FieldSet(conflicts.filter((c) => c.owner === e).map((c) => c.path));
    return { ...e, previous: e, set: e.set.difference(lost).filter(present), writer: false };
  });
  updates.push({ manager: opts.manager, operation: 'Apply', subresource, apiVersion, set: newSet, previous: own, writer: true });
  writeManagedFields(merged, updates, opts.now, current.metadata?.managedFields);
  if (upgrades) updateLastApplied(merged, applied);
  return { object: merged, conflicts: [] };
}

interface FoundConflict {
  conflict: Conflict;
  owner: OwnedFields;
  path: FieldPath;
}

/**
 * Fields owned by another manager whose value differs between the live and the merged object.
 * Entries of the applier's own name (its Update or other-subresource entries) never conflict.
 * Sorted by owner, then path, as Kubernetes lists them.
 */
function findConflicts(current: Obj, merged: Obj, others: OwnedFields[], manager: string): FoundConflict[] {
  const found: FoundConflict[] = [];
  for (const owner of others) {
    if (owner.manager === manager) continue;
    for (const path of owner.set.paths()) {
      if (leafEqual(valueAt(current, path), valueAt(merged, path))) continue;
      const conflict: Conflict = { manager: owner.manager, field: formatPath(path), operation: owner.operation, apiVersion: owner.apiVersion };
      if (owner.subresource !== '') conflict.subresource = owner.subresource;
      found.push({ conflict, owner, path });
    }
  }
  return found.sort((a, b) => compareOwners(a.owner, b.owner) || comparePaths(a.path, b.path));
}

function compareOwners(a: OwnedFields, b: OwnedFields): number {
  for (const [x, y] of [[a.manager, b.manager], [a.operation, b.operation], [a.subresource, b.subresource], [a.apiVersion, b.apiVersion]]) {
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function stringOr(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}
