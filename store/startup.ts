// The start-up of every component's store, shared by api/, controllers/ and agents/: connect to
// Cassandra, wait for the schema this code needs (or, with STRATUS_MIGRATE=auto, apply it), load
// the store's settings. Every step is retried with backoff, so a process started before
// Cassandra or before the migration step waits (and says why on /readyz) instead of dying.

import type { Client } from 'cassandra-driver';
import type { Logger } from 'pino';
import { errorText, retryWithBackoff } from '../runtime/backoff';
import { migrate } from './migrations';
import type { ObjectStore } from './object-store';
import { waitForSchema } from './schema-wait';

export interface StartupStepsOptions {
  logger: Logger;
  /** the process stopping: the steps give up (AbortedError) */
  signal: AbortSignal;
  /** hears why start-up is still waiting (the process's /readyz reason) */
  report?: (why: string | undefined) => void;
}

/** A runner of start-up steps: each retried with backoff until it succeeds, its failures reported as "<what>: <error>". */
export function startupSteps(o: StartupStepsOptions): <T>(what: string, step: () => Promise<T>) => Promise<T> {
  return async (what, step) => {
    o.report?.(what);
    const r = await retryWithBackoff(step, {
      what, logger: o.logger, signal: o.signal, maxMs: 5000,
      onRetry: (err) => o.report?.(`${what}: ${errorText(err)}`),
    });
    o.report?.(undefined);
    return r;
  };
}

export interface StartStoreOptions extends StartupStepsOptions {
  client: Client;
  keyspace: string;
  /** wait (default): for the migration step; auto: migrate here (development) */
  schemaMode: 'wait' | 'auto';
  /** for schemaMode auto */
  replicationFactor?: number;
  feedRetentionSec?: number;
  /** initialized once the schema is there */
  store?: ObjectStore;
}

/** Connects, waits for (or applies) the schema and initializes `store`, retrying each step. */
export async function startStore(o: StartStoreOptions): Promise<void> {
  const step = startupSteps(o);
  await step('waiting for Cassandra', () => o.client.connect());
  if (o.schemaMode === 'auto') {
    o.logger.warn('STRATUS_MIGRATE=auto: this process applies the schema migrations itself (development only)');
    await step('applying the schema migrations', () => migrate({
      client: o.client, keyspace: o.keyspace, replicationFactor: o.replicationFactor, feedRetentionSec: o.feedRetentionSec, logger: o.logger,
    }));
  } else {
    o.report?.('reading the schema version');
    await waitForSchema({ client: o.client, keyspace: o.keyspace, logger: o.logger, signal: o.signal, onWait: o.report });
    o.report?.(undefined);
  }
  const store = o.store;
  if (store) await step('reading the store settings', () => store.init());
}
