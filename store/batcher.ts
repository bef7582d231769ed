// Groups plain (non-conditional) writes that target the same partition and are issued in the same
// turn of the event loop into one unlogged single-partition batch: one request instead of many,
// with no added latency when there is nothing to group (the flush runs on setImmediate).

import type { Client } from 'cassandra-driver';

interface Pending {
  query: string;
  params: unknown[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class PartitionBatcher {
  private groups = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(private readonly client: Client, private readonly maxBatch = 50) {}

  /** Queues a plain write; `partition` is any string that identifies its partition. */
  write(partition: string, query: string, params: unknown[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const g = this.groups.get(partition);
      const p = { query, params, resolve, reject };
      if (g) g.push(p);
      else this.groups.set(partition, [p]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const groups = this.groups;
    this.groups = new Map();
    this.scheduled = false;
    for (const g of groups.values()) {
      for (let i = 0; i < g.length; i += this.maxBatch) this.send(g.slice(i, i + this.maxBatch));
    }
  }

  private send(items: Pending[]): void {
    const run = items.length === 1
      ? this.client.execute(items[0].query, items[0].params, { prepare: true })
      : this.client.batch(items.map((p) => ({ query: p.query, params: p.params })), { prepare: true, logged: false });
    run.then(() => items.forEach((p) => p.resolve()), (err) => items.forEach((p) => p.reject(err)));
  }
}
