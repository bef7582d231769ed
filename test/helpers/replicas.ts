// Starts N controller replicas on one store (each with its own informers, caches and metrics
// registry, as separate processes would have) and stops them; for tests and benchmarks.

import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ObjectStore } from '../../store';
import { buildReplica, type Replica, type ReplicaOptions } from '../../controllers/replica';

export interface RunningReplicas {
  replicas: Replica[];
  registries: Registry[];
  /** sum of a counter over the replicas (optionally one label value) */
  counter(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export async function startReplicas(
  store: ObjectStore,
  n: number,
  opts: Omit<ReplicaOptions, 'store' | 'logger' | 'registry' | 'identity'> & { logger?: Logger } = {},
): Promise<RunningReplicas> {
  const logger = opts.logger ?? pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
  const ac = new AbortController();
  const registries: Registry[] = [];
  const replicas: Replica[] = [];
  const done: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const registry = new Registry();
    registries.push(registry);
    const r = buildReplica({ informer: { pollIntervalMs: 50 }, ...opts, store, logger, registry, identity: `replica-${i}` });
    replicas.push(r);
    done.push(r.manager.start(ac.signal));
  }
  for (const r of replicas) for (const inf of Object.values(r.informers)) await inf.waitForSync();
  return {
    replicas,
    registries,
    async counter(name, labels) {
      let sum = 0;
      for (const reg of registries) {
        const m = await reg.getSingleMetric(name)?.get();
        for (const v of m?.values ?? []) {
          if (!labels || Object.entries(labels).every(([k, val]) => v.labels[k] === val)) sum += v.value;
        }
      }
      return sum;
    },
    async stop() {
      ac.abort();
      await Promise.all(done);
    },
  };
}
