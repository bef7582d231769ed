// Shapes shared by the server-side apply modules: objects, managedFields entries, conflicts.
// Everything here is plain JSON; nothing in api/ssa does I/O.

import type { WireObject } from '../../kube/wire';

/** A Kubernetes-shaped object as it travels (kube/wire.ts; a StoredObject is one). */
export type Obj = WireObject;

/** Metadata as far as field management cares: the rest passes through untouched. */
export type ObjMeta = NonNullable<WireObject['metadata']>;

/** Kubernetes' fieldsV1 encoding: `{"f:spec": {"f:cpu": {}}}`; `".": {}` marks a member that also has children. */
export interface FieldsV1 {
  [key: string]: FieldsV1;
}

export type Operation = 'Apply' | 'Update';

/** Only the status subresource has managedFields entries of its own. */
export type Subresource = 'status';

/** One element of `metadata.managedFields`, in the key order Kubernetes serializes it. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: Operation;
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldsV1;
  subresource?: string;
}

/**
 * A field the applier wanted to change that another manager owns. `manager` and `field`
 * (printed like `.spec.cpu`) are always set; the rest identifies the owning entry so that the
 * message reads like Kubernetes' (`"ctl" using stratuslab.eu/v1alpha1`).
 */
export interface Conflict {
  manager: string;
  field: string;
  operation?: Operation;
  apiVersion?: string;
  subresource?: string;
}

export interface ApplyOptions<T extends Obj = Obj> {
  /** the fieldManager query parameter (kubectl sends `kubectl`) */
  manager: string;
  /** the force query parameter (`--force-conflicts`): take the conflicting fields from their owners */
  force: boolean;
  /** RFC 3339 time written into the applier's entry when its field set changes */
  now: string;
  /** 'status' for PATCH .../status: only `status` fields are merged and owned */
  subresource?: Subresource;
  /**
   * Optional pure schema defaulter, run on the merged object before conflicts are computed.
   * Pass it when defaults can fill fields inside atomic lists (e.g. `spec.disks[].bus`): the
   * applied list then compares equal to the defaulted live list instead of conflicting with a
   * manager that shares it. Without it, default after `apply()` as before; both are idempotent.
   */
  defaults?: (obj: T) => T;
}

export interface ApplyResult<T extends Obj = Obj> {
  /** the merged object with its new managedFields; a copy of `current` when conflicts stop the apply */
  object: T;
  /** non-empty only when the apply was refused (force=false): answer 409 */
  conflicts: Conflict[];
}

export interface TrackUpdateOptions {
  /** the fieldManager query parameter, or the client's default (e.g. `kubectl-edit`) */
  manager: string;
  /** RFC 3339 time written into the manager's entry when its field set changes */
  now: string;
  /** 'status' for writes through the status subresource: only `status` fields change owners */
  subresource?: Subresource;
}
