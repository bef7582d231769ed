// Process orchestration for the fault harness: a Cassandra cluster of its own (scripts/cassandra.sh
// with its own address and data folder, so the test suite's node and `npm run up`'s are never
// touched) and every Stratus component as a child process of ours, so a fault hits one precise pid
// (kill -9, SIGSTOP, SIGCONT) and a clean stop is a SIGTERM.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The repository, also when this file runs compiled from dist/bench/faults. */
const here = path.resolve(__dirname, '..', '..');
export const REPO = path.basename(here) === 'dist' ? path.dirname(here) : here;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or throws after `ms` naming `what`. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/** Runs a command to its end; rejects with its stderr tail when it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: REPO, env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(err.message)}\n${stderr.split('\n').slice(-25).join('\n')}`));
      else resolve(stdout);
    });
  });
}

/** One component process: started again with the same command and environment after a fault. */
export class Component {
  child?: ChildProcess;
  private exited?: Promise<void>;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly argv: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.alive) return;
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `\n===== ${new Date().toISOString()} start ${this.name}: ${this.argv.join(' ')}\n`);
    const child = spawn(process.execPath, this.argv, { cwd: REPO, env: this.env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.child = child;
    this.starts++;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive) throw new Error(`${this.name} is not running: cannot send ${sig}`);
    this.child!.kill(sig);
  }

  /** kill -9, and wait until the process is gone. */
  async kill9(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a clean stop), then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 30_000): Promise<{ clean: boolean; code: number | null }> {
    if (!this.alive) return { clean: true, code: this.child?.exitCode ?? null };
    // A frozen process cannot act on SIGTERM.
    this.child!.kill('SIGCONT');
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.child!.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    return { clean: this.child!.signalCode !== 'SIGKILL', code: this.child!.exitCode };
  }

  /** The last lines of the component's log (for a failure message). */
  tail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export interface CassandraClusterOptions {
  /** address of node 1; the others follow (ADDR+1, ADDR+2) */
  addr: string;
  nodes: number;
  dataDir: string;
  heap?: string;
}

/** A Cassandra cluster of the harness's own, through scripts/cassandra.sh (which H2 owns). */
export class CassandraCluster {
  constructor(readonly o: CassandraClusterOptions) {}

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      STRATUS_CASSANDRA_ADDR: this.o.addr,
      STRATUS_CASSANDRA_NODES: String(this.o.nodes),
      STRATUS_CASSANDRA_DATA: this.o.dataDir,
      STRATUS_CASSANDRA_AUTH: '0',
      ...(this.o.heap ? { STRATUS_CASSANDRA_HEAP: this.o.heap } : {}),
    };
  }

  /** Address of node i (1-based). */
  addr(i: number): string {
    const p = this.o.addr.split('.').map(Number);
    p[3] += i - 1;
    return p.join('.');
  }

  get contactPoints(): string[] {
    return Array.from({ length: this.o.nodes }, (_, i) => `${this.addr(i + 1)}:9042`);
  }

  private nodeDir(i: number): string {
    return this.o.nodes === 1 ? this.o.dataDir : path.join(this.o.dataDir, `node${i}`);
  }

  /** Starts every node that is not running (also: restarts one that was killed) and waits until all answer. */
  async start(): Promise<void> {
    await run('bash', ['scripts/cassandra.sh', 'start'], this.env);
  }

  /** Stops every node of this data folder (never another one: the script only stops what it started under DATA). */
  async stop(): Promise<void> {
    await run('bash', ['scripts/cassandra.sh', 'stop'], this.env);
  }

  pid(i: number): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.nodeDir(i), 'cassandra.pid'), 'utf8').trim());
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** kill -9 node i and wait until its process is gone. */
  async kill9(i: number): Promise<void> {
    const pid = this.pid(i);
    if (!pid) throw new Error(`Cassandra node ${i} (${this.addr(i)}) is not running`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`Cassandra node ${i} to exit`, 30_000, async () => (this.pid(i) === undefined ? true : undefined), 100);
  }
}
