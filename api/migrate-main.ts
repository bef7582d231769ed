// stratus-migrate (`npm run migrate`): the schema step that runs before the components. Creates the
// keyspace if needed and applies the pending migrations once; the frontends, controllers and
// agents only wait for the version they need (store/schema-wait.ts). While Cassandra is still
// starting it retries with backoff, printing progress, up to --timeout / STRATUS_MIGRATE_TIMEOUT_SEC.
// Exit 0 once the schema is at the code's version; 1 with a one-line reason otherwise; 2 on bad settings.

import { Command } from 'commander';
import pino from 'pino';
import { loadMigrateConfig, type MigrateConfig } from '../config';
import { createCassandraClient, migrate, MIGRATIONS, readSchemaState, SCHEMA_VERSION } from '../store';
import { errorText, retryWithBackoff } from '../runtime/backoff';
import { abortOnSignals } from '../runtime';

export interface MigrateIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Runs the migration step; resolves with the process's exit code. */
export async function runMigrate(cfg: MigrateConfig, io: MigrateIo, signal: AbortSignal): Promise<number> {
  const { keyspace } = cfg.cassandra;
  // Structured logs of migrate() (which statement runs) go to stderr; the summary to stdout.
  const logger = pino({ level: cfg.logLevel, base: { component: 'migrate' } }, pino.destination({ fd: 2, sync: true }));
  const client = createCassandraClient({ ...cfg.cassandra, keyspace: undefined });
  const started = Date.now();
  try {
    const applied = await retryWithBackoff(async () => {
      await client.connect();
      return migrate({ client, keyspace, replicationFactor: cfg.cassandra.replicationFactor, feedRetentionSec: cfg.feedRetentionSec, logger });
    }, {
      what: 'migrating', signal, maxMs: 5000, timeoutMs: cfg.timeoutSec * 1000,
      // A disagreeing schema or a bad statement does not get better by retrying.
      retryable: (err) => (err as { code?: unknown }).code !== 'SchemaDisagreement' && !(err instanceof Error && /invalid keyspace/.test(err.message)),
      onRetry: (err, attempt, delayMs) => io.err(
        `stratus-migrate: Cassandra at ${cfg.cassandra.contactPoints.join(',')} not ready (${errorText(err)}); retrying in ${(delayMs / 1000).toFixed(1)} s `
        + `(attempt ${attempt}, ${Math.round((Date.now() - started) / 1000)} s of ${cfg.timeoutSec} s)`),
    });
    for (const id of applied) io.out(`applied migration ${id}: ${MIGRATIONS.find((m) => m.id === id)?.description ?? ''}`);
    const state = await readSchemaState(client, keyspace);
    if (state.version !== SCHEMA_VERSION) throw new Error(`schema of keyspace ${keyspace} at version ${state.version} after migrating, expected ${SCHEMA_VERSION}`);
    io.out(applied.length > 0
      ? `keyspace ${keyspace}: schema at version ${SCHEMA_VERSION} (${applied.length} migration${applied.length === 1 ? '' : 's'} applied)`
      : `keyspace ${keyspace}: schema at version ${SCHEMA_VERSION}, nothing to do`);
    return 0;
  } catch (err) {
    io.err(`stratus-migrate: ${signal.aborted ? 'interrupted' : `failed: ${errorText(err)}`}`);
    return 1;
  } finally {
    await client.shutdown().catch(() => undefined);
  }
}

export async function runCli(argv: string[] = process.argv): Promise<number> {
  const program = new Command('stratus-migrate')
    .description('Apply the Stratus schema migrations to Cassandra (run before the frontends, controllers and agents)')
    .option('--timeout <seconds>', 'how long to wait for Cassandra to answer (default: $STRATUS_MIGRATE_TIMEOUT_SEC or 120)')
    .addHelpText('after', '\nSettings: STRATUS_CASSANDRA, STRATUS_CASSANDRA_DC, STRATUS_KEYSPACE, STRATUS_REPLICATION (of a new keyspace), '
      + 'STRATUS_CASSANDRA_USER/PASSWORD, STRATUS_FEED_RETENTION_SEC, STRATUS_LOG_LEVEL.');
  program.parse(argv);
  let cfg: MigrateConfig;
  try {
    cfg = loadMigrateConfig(process.env, program.opts<{ timeout?: string }>());
  } catch (err) {
    process.stderr.write(`stratus-migrate: ${(err as Error).message}\n`);
    return 2;
  }
  return runMigrate(cfg, { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }, abortOnSignals());
}

/** The process: exits with runCli's code. */
export function main(): void {
  runCli().then((code) => process.exit(code), (err) => {
    process.stderr.write(`stratus-migrate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

if (require.main === module) main();
