// Listing collections: plain objects or server-printed Tables, paged with `limit`/`continue`.

import type { ApiClient } from './client';
import { objectsToTable, isMetaTable, TABLE_ACCEPT, type MetaTable } from './output';
import { resourcePath, type KindInfo } from './resources';
import type { List } from '../kube/wire';

export const PAGE_SIZE = 500;

export interface CollectionTarget {
  kind: KindInfo;
  /** for a namespaced kind, undefined means all namespaces */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export type Obj = Record<string, unknown>;

export interface ObjectList {
  items: Obj[];
  resourceVersion?: string;
}

/** A list page as a client receives it: from any server, any field may be missing. */
type ListBody = Partial<List<Obj>>;

/** Fills in kind and apiVersion, which servers may leave out of list items (kubectl does the same). */
export function withTypeMeta(kind: KindInfo, obj: Obj, apiVersion: string): Obj {
  if (obj.kind && obj.apiVersion) return obj;
  return { apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? kind.kind, ...obj };
}

/** Lists every object of a collection, following `continue` tokens. */
export async function listObjects(client: ApiClient, t: CollectionTarget, signal?: AbortSignal): Promise<ObjectList> {
  const path = resourcePath(t.kind, { namespace: t.kind.namespaced ? t.namespace : undefined });
  const items: Obj[] = [];
  let resourceVersion: string | undefined;
  let cont: string | undefined;
  do {
    const body = await client.get<ListBody>(path, {
      query: { labelSelector: t.labelSelector, fieldSelector: t.fieldSelector, limit: PAGE_SIZE, continue: cont },
      signal,
    });
    const apiVersion = (body as Obj)?.apiVersion;
    for (const it of body?.items ?? []) items.push(withTypeMeta(t.kind, it, typeof apiVersion === 'string' ? apiVersion : ''));
    // the first page's resourceVersion is the snapshot the list was read at
    resourceVersion ??= body?.metadata?.resourceVersion;
    cont = body?.metadata?.continue || undefined;
  } while (cont);
  return { items, resourceVersion };
}

/**
 * Lists a collection as a server-printed Table (all pages merged). A server that answers with a
 * plain list gets a client-side NAME/AGE table instead.
 */
export async function listTable(client: ApiClient, t: CollectionTarget, signal?: AbortSignal): Promise<MetaTable> {
  const path = resourcePath(t.kind, { namespace: t.kind.namespaced ? t.namespace : undefined });
  let table: MetaTable | undefined;
  let cont: string | undefined;
  do {
    const body = await client.get<unknown>(path, {
      query: { labelSelector: t.labelSelector, fieldSelector: t.fieldSelector, limit: PAGE_SIZE, continue: cont },
      accept: TABLE_ACCEPT,
      signal,
    });
    const page: MetaTable = isMetaTable(body) ? body : objectsToTable(((body as ListBody)?.items ?? []) as Obj[]);
    if (!isMetaTable(body)) page.metadata = (body as ListBody)?.metadata;
    if (!table) table = { ...page, rows: [...page.rows], metadata: { resourceVersion: page.metadata?.resourceVersion } };
    else table.rows.push(...page.rows);
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return table as MetaTable;
}

/** Gets one object as a one-row Table (or a client-side table when the server sends the object). */
export async function getTable(client: ApiClient, kind: KindInfo, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<MetaTable> {
  const body = await client.get<unknown>(resourcePath(kind, { namespace, name }), { accept: TABLE_ACCEPT, signal });
  return isMetaTable(body) ? body : objectsToTable([body as Obj]);
}
