// Reads every row of a query page by page (the driver's paging state), as an async iterable.

import type { Client, types } from 'cassandra-driver';

export async function* rowsOf(client: Client, query: string, params: unknown[], opts: { fetchSize?: number; consistency?: number } = {}): AsyncGenerator<types.Row> {
  let pageState: string | undefined;
  do {
    const rs = await client.execute(query, params, { prepare: true, fetchSize: opts.fetchSize ?? 500, pageState, consistency: opts.consistency });
    for (const row of rs.rows) yield row;
    pageState = rs.pageState ?? undefined;
  } while (pageState);
}
