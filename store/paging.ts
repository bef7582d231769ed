// The one paging loop of the store: every row of a query, page by page (the driver's paging
// state), as an async iterable. Callers stop early by breaking out of their for-await.

import type { Client, types } from 'cassandra-driver';

export interface PagingOptions {
  /** rows per page; default 500 */
  fetchSize?: number;
  /** default the client's (LOCAL_QUORUM) */
  consistency?: number;
}

export async function* rowsOf(client: Client, query: string, params: unknown[], opts: PagingOptions = {}): AsyncGenerator<types.Row> {
  let pageState: string | undefined;
  do {
    const rs = await client.execute(query, params, { prepare: true, fetchSize: opts.fetchSize ?? 500, pageState, consistency: opts.consistency });
    for (const row of rs.rows) yield row;
    pageState = rs.pageState ?? undefined;
  } while (pageState);
}

/** Every row of a query, collected (for small tables and bounded reads). */
export async function allRows(client: Client, query: string, params: unknown[], opts: PagingOptions = {}): Promise<types.Row[]> {
  const out: types.Row[] = [];
  for await (const row of rowsOf(client, query, params, opts)) out.push(row);
  return out;
}
