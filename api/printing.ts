// Responses for objects and lists: the object itself, a List, or a meta.k8s.io Table for kubectl.

import type { Context } from 'koa';
import { API_VERSION, type KindInfo } from '../schemas/kinds';
import type { ListResult, StoredObject } from '../store';
import { sendObject } from './negotiate';
import { parseTableAccept, toTable } from './table';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** The Table options when the client asked for a Table, else undefined. */
export function tableRequest(ctx: Context): { includeObject: IncludeObject } | undefined {
  if (!parseTableAccept(ctx.get('Accept'))) return undefined;
  const inc = ctx.query['includeObject'];
  const includeObject: IncludeObject = inc === 'None' || inc === 'Object' ? inc : 'Metadata';
  return { includeObject };
}

export function listOf(kind: KindInfo, res: Pick<ListResult, 'items' | 'resourceVersion' | 'continue'>): Record<string, unknown> {
  const metadata: Record<string, string> = { resourceVersion: res.resourceVersion };
  if (res.continue) metadata['continue'] = res.continue;
  return { apiVersion: API_VERSION, kind: `${kind.kind}List`, metadata, items: res.items };
}

export function sendList(ctx: Context, kind: KindInfo, res: Pick<ListResult, 'items' | 'resourceVersion' | 'continue'>, now: number): void {
  const table = tableRequest(ctx);
  if (table) {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(toTable(kind, res.items, { ...table, resourceVersion: res.resourceVersion, continue: res.continue, now }));
    return;
  }
  sendObject(ctx, listOf(kind, res));
}

export function sendOne(ctx: Context, kind: KindInfo, obj: StoredObject, now: number): void {
  const table = tableRequest(ctx);
  if (table) {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(toTable(kind, [obj], { ...table, resourceVersion: obj.metadata.resourceVersion, now }));
    return;
  }
  sendObject(ctx, obj);
}
