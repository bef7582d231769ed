import type { FieldRequirement, LabelSelector } from './selectors';

// The generic shape of a stored object: Kubernetes-style metadata plus free-form spec and status.

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

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Addresses one object. `namespace` is '' for cluster-scoped kinds. */
export interface ObjectKey {
  kind: string;
  namespace: string;
  name: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: StoredObject;
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
export interface ListResult {
  items: StoredObject[];
  resourceVersion: string;
  continue?: string;
}
