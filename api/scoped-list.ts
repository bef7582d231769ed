// Listing a namespaced kind across a chosen set of namespaces (the projects a user may see),
// page by page with its own continue token, at a cost per page bounded by the limit.

import { BadRequestError } from '../errors';
import type { ListOptions, ListResult, ObjectStore } from '../store';

interface Token { v: 's1'; ns: string; c?: string; rv: string }

function encode(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decode(s: string): Token {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Token;
    if (t.v === 's1' && typeof t.ns === 'string' && typeof t.rv === 'string' && (t.c === undefined || typeof t.c === 'string')) return t;
  } catch {
    // fall through
  }
  throw new BadRequestError('invalid continue token');
}

export async function listInNamespaces(store: ObjectStore, kind: string, namespaces: string[], opts: ListOptions): Promise<ListResult> {
  const limit = Math.min(Math.max(1, opts.limit ?? 500), 1000);
  const token = opts.continue ? decode(opts.continue) : undefined;
  const resourceVersion = token?.rv ?? store.currentResourceVersion();
  const sorted = [...new Set(namespaces)].sort();
  let i = token ? sorted.findIndex((n) => n >= token.ns) : 0;
  if (i < 0) return { items: [], resourceVersion };
  let inner = token && sorted[i] === token.ns ? token.c : undefined;
  const items: ListResult['items'] = [];
  while (i < sorted.length) {
    const ns = sorted[i];
    const page = await store.list(kind, ns, { limit: limit - items.length, continue: inner, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
    items.push(...page.items);
    if (page.continue) {
      inner = page.continue;
      if (items.length >= limit) return { items, resourceVersion, continue: encode({ v: 's1', ns, c: inner, rv: resourceVersion }) };
      continue;
    }
    inner = undefined;
    i++;
    if (items.length >= limit && i < sorted.length) return { items, resourceVersion, continue: encode({ v: 's1', ns: sorted[i], rv: resourceVersion }) };
  }
  return { items, resourceVersion };
}
