// A real frontend process (dist/api/main.js) on a fresh keyspace, for end-to-end tests of clients.
import { spawn, type ChildProcess, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createCassandraClient } from '../../store';
import { cassandraContactPoints } from './store';

export const REPO = path.resolve(__dirname, '..', '..');

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
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function waitReady(url: string, ms = 60000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`frontend at ${url} not ready`);
}

export async function startFrontend(prefix: string, extraEnv: Record<string, string> = {}): Promise<Frontend> {
  const keyspace = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-${prefix}-`));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    STRATUS_KEYSPACE: keyspace, STRATUS_LISTEN: `127.0.0.1:${port}`, STRATUS_LOG_LEVEL: 'warn',
    STRATUS_CASSANDRA: cassandraContactPoints().join(','), STRATUS_TLS_CERT: '', STRATUS_TLS_KEY: '', ...extraEnv,
  };
  const scheme = env['STRATUS_TLS_CERT'] ? 'https' : 'http';
  const launch = () => spawn(process.execPath, [path.join(REPO, 'dist/api/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const fe: Frontend = {
    url: `${scheme}://127.0.0.1:${port}`, port, keyspace, dir, env, proc: launch(),
    async stop() {
      if (fe.proc.exitCode !== null) return;
      const exited = new Promise((r) => fe.proc.once('exit', r));
      fe.proc.kill('SIGTERM');
      await exited;
    },
    async restart() {
      await fe.stop();
      fe.proc = launch();
      if (scheme === 'http') await waitReady(fe.url);
    },
    async close() {
      await fe.stop();
      const c = createCassandraClient({ contactPoints: cassandraContactPoints() });
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await c.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (scheme === 'http') await waitReady(fe.url);
  return fe;
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs the built `stratus` CLI as a separate process. */
export function stratus(args: string[], env: Record<string, string>, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [path.join(REPO, 'bin/stratus.js'), ...args], { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) {
      child.stdin!.end(input);
    }
  });
}
