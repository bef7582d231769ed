// The Kubernetes wire types, shared by the API server (which sends them) and the CLI (which reads
// them): an object on the wire, List, the Status error shape, watch events and meta.k8s.io Tables.

import type { StatusDetails } from '../errors';
import type { ObjectMeta, WatchEventType } from './types';

/** A Status's details and causes: errors/ declares them (its errors carry them), here for the wire. */
export type { StatusCause, StatusDetails } from '../errors';

/** An object as it travels (a manifest, a request body, a list item): type meta and metadata may be missing. */
export interface WireObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Partial<ObjectMeta>;
  [key: string]: unknown;
}

/** The metadata of a list or a Table: a watch cursor and the next page's token. */
export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

/** A page of a collection, e.g. a VirtualMachineList. */
export interface List<T = WireObject> {
  apiVersion: string;
  kind: string;
  metadata: ListMeta;
  items: T[];
}

/** The Kubernetes Status object (kind Status, apiVersion v1): the body of every error and of some successes. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** One line of a watch stream: ERROR carries a Status, BOOKMARK an object with only a resourceVersion. */
export interface WireWatchEvent<T = WireObject> {
  type: WatchEventType | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** A column of a meta.k8s.io Table. The server sends every field; a reader defaults the optional ones. */
export interface TableColumnDefinition {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
}

/** The object of a Table row when the client asked for includeObject=Metadata. */
export type PartialObjectMetadata = {
  kind: 'PartialObjectMetadata';
  apiVersion: string;
  metadata: Record<string, unknown>;
};

export interface TableRow {
  cells: unknown[];
  /** the whole object, its PartialObjectMetadata, or nothing, as the client asked */
  object?: Record<string, unknown>;
}

/** A meta.k8s.io Table: the answer to `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */
export interface Table {
  kind: 'Table';
  apiVersion?: string;
  metadata?: ListMeta;
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}
