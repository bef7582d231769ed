// A real frontend process (dist/api/main.js) on a fresh keyspace, for end-to-end tests of clients.
import { spawn, type ChildProcess, execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { createCassandraClient } from '../../store';
import { cassandraContactPoints } from './store';

/** The repository (also when this file runs compiled, from dist/test/helpers, as the benchmarks do). */
const up = path.resolve(__dirname, '..', '..');
export const REPO = path.basename(up) === 'dist' ? path.dirname(up) : up;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Frontend {
  url: string;
  port: number;
  keyspace: string;
  dir: string;
  proc: ChildProcess;
  env: Record<string, string>;
  /** the CA of the frontend's certificate, when it serves HTTPS */
  ca?: string;
  /** a bearer token of the cluster administrator "admin" (made by stratus-bootstrap) */
  token: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function waitReady(url: string, ca?: string, ms = 60000): Promise<void> {
  const end = Date.now() + ms;
  const dispatcher = ca ? new Agent({ connect: { ca: fs.readFileSync(ca) } }) : undefined;
  while (Date.now() < end) {
    try {
      const r = await undiciFetch(`${url}/readyz`, { dispatcher });
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`frontend at ${url} not ready`);
}

/** A local CA and server certificate (scripts/pki.sh) in `dir`; returns the paths. */
export function makePki(dir: string): { ca: string; cert: string; key: string } {
  execFileSync('bash', [path.join(REPO, 'scripts/pki.sh'), dir], { stdio: 'ignore' });
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server-key.pem') };
}

/**
 * `migrate: false`: the keyspace is left empty and the frontend is not awaited (it waits for the
 * schema, not ready): for tests of the start-up itself.
 */
export async function startFrontend(prefix: string, extraEnv: Record<string, string> = {}, opts: { tls?: boolean; migrate?: boolean } = {}): Promise<Frontend> {
  const keyspace = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-${prefix}-`));
  const pki = opts.tls ? makePki(path.join(dir, 'pki')) : undefined;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    STRATUS_KEYSPACE: keyspace, STRATUS_LISTEN: `127.0.0.1:${port}`, STRATUS_LOG_LEVEL: 'warn',
    STRATUS_CASSANDRA: cassandraContactPoints().join(','), STRATUS_TLS_CERT: pki?.cert ?? '', STRATUS_TLS_KEY: pki?.key ?? '', ...extraEnv,
  };
  const scheme = env['STRATUS_TLS_CERT'] ? 'https' : 'http';
  // The schema is its own step (as in `npm run up`); the frontend only waits for it.
  if (opts.migrate !== false) migrateKeyspace(env);
  const launch = () => spawn(process.execPath, [path.join(REPO, 'dist/api/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const fe: Frontend = {
    url: `${scheme}://127.0.0.1:${port}`, port, keyspace, dir, env, proc: launch(), ca: pki?.ca, token: '',
    async stop() {
      if (fe.proc.exitCode !== null) return;
      const exited = new Promise((r) => fe.proc.once('exit', r));
      fe.proc.kill('SIGTERM');
      await exited;
    },
    async restart() {
      await fe.stop();
      fe.proc = launch();
      await waitReady(fe.url, pki?.ca);
    },
    async close() {
      await fe.stop();
      const c = createCassandraClient({ contactPoints: cassandraContactPoints() });
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await c.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.migrate === false) return fe;
  await waitReady(fe.url, pki?.ca);
  fe.token = bootstrapToken(env);
  lastToken = fe.token;
  return fe;
}

/** Runs stratus-migrate (dist/api/migrate-main.js) on the keyspace of `env` (STRATUS_KEYSPACE); throws with its output on failure. */
export function migrateKeyspace(env: Record<string, string>): string {
  return execFileSync(process.execPath, [path.join(REPO, 'dist/api/migrate-main.js')], { env: { ...env, STRATUS_LOG_LEVEL: 'warn' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs stratus-bootstrap (dist/api/auth/bootstrap.js) against a frontend's keyspace: a new admin token. */
export function bootstrapToken(env: Record<string, string>, args: string[] = []): string {
  return execFileSync(process.execPath, [path.join(REPO, 'dist/api/auth/bootstrap.js'), ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/** The admin token of the frontend started last: `stratus()` uses it when the CLI config has none. */
let lastToken: string | undefined;

function configHasToken(env: Record<string, string>): boolean {
  const file = env['STRATUS_CONFIG'];
  if (!file) return false;
  try {
    return /^token:/m.test(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs the built `stratus` CLI as a separate process. */
export function stratus(args: string[], env: Record<string, string>, input?: string): Promise<RunResult> {
  // Tests that write a config without a token act as the administrator of the last frontend.
  const auth = lastToken && !args.some((a) => a === '--token' || a.startsWith('--token=')) && !configHasToken(env) && env['STRATUS_TEST_ANONYMOUS'] !== '1'
    ? [`--token=${lastToken}`] : [];
  return new Promise((resolve) => {
    // Options go before a `--` (what follows it is a remote command: stratus ssh VM -- cmd).
    const dashes = args.indexOf('--');
    const argv = dashes >= 0 ? [...args.slice(0, dashes), ...auth, ...args.slice(dashes)] : [...args, ...auth];
    const child = execFile(process.execPath, [path.join(REPO, 'bin/stratus.js'), ...argv], { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) {
      child.stdin!.end(input);
    }
  });
}
