// Running the real `npm run up` / `npm run down` scripts (scripts/up.sh, scripts/down.sh) from a
// test, in a state folder of its own, with none of the developer's or the test run's STRATUS_*
// settings leaking in (the test node's STRATUS_CASSANDRA, for one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, type RunResult } from './frontend';

/** The environment of `up`/`down`: the process's, minus every STRATUS_*, plus `vars`. */
export function upScriptEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STRATUS_')) env[k] = v;
  return { ...env, ...vars };
}

/** Runs `bash scripts/<script> args...` in the repository; resolves with its exit code and output. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(REPO, 'scripts', script), ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`scripts/${script} ${args.join(' ')} did not finish in ${timeoutMs} ms; its output so far:\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The pid in $STATE/run/<name>.pid, or undefined. */
export function pidOf(state: string, name: string): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(state, 'run', `${name}.pid`), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** True while a process of that id exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of the Cassandra nodes whose data folders are under `data` (scripts/cassandra.sh marks them). */
export function cassandraPids(data: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const node = cmdline.split('\0').find((a) => a.startsWith('-Dstratus.cassandra.node='));
    if (node && node.slice('-Dstratus.cassandra.node='.length).startsWith(data) && alive(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

/** KEY=value lines of a credentials file written by scripts/cassandra-roles.js. */
export function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
