// meta.k8s.io Tables for `kubectl get`: columns from a kind's printerColumns (schemas/kinds.ts),
// cells from kube/printer.ts. Pure builders: the caller sends the result as application/json.

import { BadRequestError } from '../errors';
import type { KindInfo } from '../schemas/kinds';
import { printRow } from '../kube/printer';
import { parseAccept } from './discovery';
import type { ListMeta, PartialObjectMetadata, Table, TableColumnDefinition, TableRow } from '../kube/wire';

export type { PartialObjectMetadata, Table, TableColumnDefinition, TableRow };

/** A column as this server sends it: every field set. */
export type SentColumn = Required<TableColumnDefinition>;

/** A Table as this server sends it: every field set. */
export type SentTable = Required<Table> & { columnDefinitions: SentColumn[] };

export type IncludeObject = 'None' | 'Metadata' | 'Object';
export type TableVersion = 'v1' | 'v1beta1';

export interface TableOptions {
  /** what each row carries: PartialObjectMetadata (default), the whole object, or nothing */
  includeObject?: IncludeObject;
  resourceVersion?: string;
  continue?: string;
  /** true: leave columnDefinitions empty (watch events after the first) */
  noHeaders?: boolean;
  /** ms since the epoch, for the Age column; default Date.now() */
  now?: number;
  /** the Table version the client asked for (see parseTableAccept); default v1 */
  version?: TableVersion;
}

const NAME_COLUMN: SentColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a project (or the cluster, for cluster-scoped kinds). Cannot be updated.',
  priority: 0,
};

/** The column definitions of the kind's Table: Name, then its printer columns (all priorities). */
export function columnDefinitions(kindInfo: KindInfo): SentColumn[] {
  return [
    { ...NAME_COLUMN },
    ...(kindInfo.printerColumns ?? []).map((c) => ({
      name: c.name,
      type: c.type,
      format: '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
  ];
}

function metadataOf(obj: unknown): Record<string, unknown> {
  const m = obj && typeof obj === 'object' ? (obj as { metadata?: unknown }).metadata : undefined;
  return m && typeof m === 'object' ? (m as Record<string, unknown>) : {};
}

function rowOf(kindInfo: KindInfo, obj: unknown, includeObject: IncludeObject, version: TableVersion, now: Date): TableRow {
  const meta = metadataOf(obj);
  const name = typeof meta.name === 'string' ? meta.name : '';
  const row: TableRow = { cells: [name, ...printRow(kindInfo, obj, now)] };
  if (includeObject === 'Metadata') {
    row.object = { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: meta };
  } else if (includeObject === 'Object') {
    row.object = obj as Record<string, unknown>;
  }
  return row;
}

/** A meta.k8s.io Table of `objects` of one kind, as `kubectl get` asks for it. */
export function toTable(kindInfo: KindInfo, objects: readonly unknown[], opts: TableOptions = {}): SentTable {
  const version = opts.version ?? 'v1';
  const includeObject = opts.includeObject ?? 'Metadata';
  const now = new Date(opts.now ?? Date.now());
  const metadata: ListMeta = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata,
    columnDefinitions: opts.noHeaders ? [] : columnDefinitions(kindInfo),
    rows: objects.map((o) => rowOf(kindInfo, o, includeObject, version, now)),
  };
}

/**
 * The `object` of a watch event when the watch asked for Tables: a one-row Table. Only the first
 * event carries columnDefinitions; kubectl keeps the headers it printed for the later ones.
 */
export function watchEventTable(
  kindInfo: KindInfo,
  obj: unknown,
  first: boolean,
  opts: IncludeObject | Omit<TableOptions, 'noHeaders' | 'resourceVersion'> = {},
): SentTable {
  const o = typeof opts === 'string' ? { includeObject: opts } : opts;
  const rv = metadataOf(obj).resourceVersion;
  return toTable(kindInfo, [obj], { ...o, noHeaders: !first, resourceVersion: typeof rv === 'string' ? rv : undefined });
}

/**
 * Whether the client asked for a Table (`application/json;as=Table;v=v1;g=meta.k8s.io`, or v1beta1)
 * before any plain form it accepts. Returns the Table version to answer with, or undefined for
 * the object or list itself. Answer Tables with Content-Type application/json.
 */
export function parseTableAccept(accept: string | undefined): { version: TableVersion } | undefined {
  for (const r of parseAccept(accept)) {
    const { as, g, v } = r.params;
    if (as === undefined) {
      if (r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*' || r.type.includes('yaml')) return undefined;
      continue;
    }
    if (as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1')
      && (r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*')) {
      return { version: v };
    }
    // another as= (PartialObjectMetadataList, protobuf forms...): not served, try the next range
  }
  return undefined;
}

/** The includeObject query parameter (Metadata when absent); anything else is a 400 as in Kubernetes. */
export function parseIncludeObject(value: string | string[] | undefined): IncludeObject {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw new BadRequestError(`includeObject: Unsupported value: "${v}": supported values: "Metadata", "None", "Object"`);
}
