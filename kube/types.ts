// The shape of a stored object: Kubernetes-style metadata plus spec and status, typed per kind from
// the types generated out of schemas/*.json (ObjectOf<'VirtualMachine'>), free-form otherwise.

import type { KindTypes } from '../schemas/types.gen';
import type { FieldRequirement, LabelSelector } from './selectors';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  managedFields?: unknown[];
  [key: string]: unknown;
}

/** What every object has, whatever its kind. */
export interface ObjectBase {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/**
 * An object of any kind. Every typed object (ObjectOf<K>) is one, so the store, informers and
 * key functions take them all; a reader that knows the kind asks for the typed form instead.
 */
export interface StoredObject<Spec = Record<string, unknown>, Status = Record<string, unknown>> extends ObjectBase {
  spec?: Spec;
  status?: Status;
}

/** The name of every kind with a schema (served or internal), e.g. 'VirtualMachine', 'HostAllocation'. */
export type KindName = keyof KindTypes;

/**
 * An object of kind K: spec and status as its schema declares them (spec required where the
 * schema requires it), e.g. `vm.spec.memory` is a Quantity. A kind without status has none.
 */
export type ObjectOf<K extends KindName> = ObjectBase & Pick<KindTypes[K], Extract<'spec' | 'status', keyof KindTypes[K]>>;

export type VirtualMachineObject = ObjectOf<'VirtualMachine'>;
export type VolumeObject = ObjectOf<'Volume'>;
export type ImageObject = ObjectOf<'Image'>;
export type HostObject = ObjectOf<'Host'>;
export type ProjectObject = ObjectOf<'Project'>;
export type HostAllocationObject = ObjectOf<'HostAllocation'>;
export type TopologyClaimObject = ObjectOf<'TopologyClaim'>;
export type NetworkObject = ObjectOf<'Network'>;
export type SecurityGroupObject = ObjectOf<'SecurityGroup'>;
export type AddressClaimObject = ObjectOf<'AddressClaim'>;

/** Addresses one object. `namespace` is '' for cluster-scoped kinds. */
export interface ObjectKey {
  kind: string;
  namespace: string;
  name: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T extends StoredObject = StoredObject> {
  type: WatchEventType;
  object: T;
  /** MODIFIED events that changed the labels: the labels before (label-selector watches need them) */
  prevLabels?: Record<string, string>;
}

export interface ListOptions {
  limit?: number;
  continue?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldRequirement[];
}

/** One page of a list; `resourceVersion` is a watch cursor taken before the page was read. */
export interface ListResult<T extends StoredObject = StoredObject> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}
