// Server-side apply field management (pure, no I/O): who owns which field of an object, the
// merge `kubectl apply --server-side` performs, and the 409 conflicts it reports.
//
// Modelled on Kubernetes' structured-merge-diff, simplified:
// - Lists are ATOMIC: one field owns the whole list and an apply replaces it whole. We do not
//   implement `x-kubernetes-list-type: map` / `set` (per-item ownership keyed by `name`), even
//   where the schemas declare it; two managers cannot own different items of `spec.disks`.
//   Ownership read from a real Kubernetes server (`k:`, `v:`, `i:` keys) collapses to the list.
// - Objects are always granular per key (labels, annotations, placement.hostSelector); there
//   are no atomic maps or structs. An empty object in a manifest is owned as a field itself.
// - Never managed: apiVersion, kind, metadata.{name, namespace, uid, resourceVersion,
//   generation, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, selfLink,
//   managedFields}, and `status` except through the status subresource (`subresource: 'status'`,
//   which manages `status` fields only).
// - A null in a manifest means "not set" (neither merged nor owned).
// - The same manager name never conflicts with itself across operations or subresources.
// - No version conversion: entries keep the apiVersion they were written with.
// - The client-side apply upgrade (last-applied.ts) is kube-apiserver's: for the `kubectl` manager
//   only, fields kubectl's last-applied-configuration still describes never conflict, and the
//   annotation follows each such apply.

export { apply } from './apply';
export { trackUpdate } from './track-update';
export { fieldsOf, isManagedPath } from './fields';
export { FieldSet, formatPath, comparePaths, type FieldPath } from './field-set';
export { toFieldsV1, fromFieldsV1 } from './fields-v1';
export { stripManagedFields, readManagedFields, compareEntries, type OwnedFields } from './managed-fields';
export { formatConflictMessage, conflictCauses, describeManager } from './conflicts';
export { LAST_APPLIED_ANNOTATION, UPGRADE_MANAGER, fieldsFromLastApplied, encodeLastApplied, lastAppliedOf } from './last-applied';
export type {
  Obj, ObjMeta, FieldsV1, Operation, Subresource, ManagedFieldsEntry, Conflict,
  ApplyOptions, ApplyResult, TrackUpdateOptions,
} from './types';
