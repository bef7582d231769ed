// Real guests for end-to-end tests and benchmarks: what a machine lacks to run them, and a session
// libvirtd run as an unprivileged user (scripts/session-libvirtd.sh, shared with `npm run up`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './frontend';
import { until } from './wait';

/** The user the session libvirtd (and so qemu) runs as: nobody. Files a guest uses must be readable by it. */
export const LIBVIRTD_UID = 65534;

const SCRIPT = path.join(REPO, 'scripts/session-libvirtd.sh');

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why real guests cannot run here (for describeIfAvailable), or undefined: qemu, libvirtd, root
 * and setpriv, and qemu actually starting with TCG. `needs` adds files that must exist
 * (e.g. dist/agents/main.js, relative to the repository).
 */
export function qemuUnavailable(needs: string[] = []): string | undefined {
  if (!has('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (scripts/apt-packages.txt: qemu-system-x86)';
  if (!has('libvirtd')) return 'libvirtd is not installed (scripts/apt-packages.txt: libvirt-daemon)';
  if (!has('setpriv') || process.getuid?.() !== 0) return 'a session libvirtd as an unprivileged user needs root and setpriv';
  for (const f of needs) if (!fs.existsSync(path.join(REPO, f))) return `${f} is missing (npm run build)`;
  try {
    execFileSync('qemu-system-x86_64', ['-machine', 'pc,accel=tcg', '-display', 'none', '-nodefaults', '-S', '-version'], { stdio: 'ignore', timeout: 20000 });
  } catch (err) {
    return `qemu-system-x86_64 does not run here: ${String(err)}`;
  }
  return undefined;
}

export interface SessionLibvirtd {
  /** the folder given: run/ and home/ of the daemon, state/ for an agent's --state-dir (pools, console/) */
  readonly dir: string;
  /** qemu+unix:///session?socket=DIR/run/libvirt/libvirt-sock (or a short link to DIR/run) */
  readonly uri: string;
  /** the agent state folder prepared for the daemon's user: DIR/state */
  readonly stateDir: string;
  readonly pid: number | undefined;
  /** stops the daemon (SIGTERM; guests keep running, as with a real restart) */
  stop(): Promise<void>;
  /** starts it again after stop() */
  start(): Promise<void>;
}

/**
 * Starts a session libvirtd with its folders in `dir` (created; chowned to LIBVIRTD_UID; every
 * folder above it must let that user through, unlike mkdtemp's 0700) and resolves once its socket
 * exists, or fails with the daemon's own words when it exits. Open connections with retries: the socket appears a moment
 * before the daemon accepts on it.
 */
export async function startSessionLibvirtd(dir: string, opts: { timeoutMs?: number } = {}): Promise<SessionLibvirtd> {
  fs.mkdirSync(dir, { recursive: true });
  const abs = fs.realpathSync(dir);
  // the script says where the socket is (through a short link when `dir` is long)
  const uri = execFileSync('bash', [SCRIPT, '--uri', abs], { encoding: 'utf8' }).trim();
  const sock = uri.slice(uri.indexOf('socket=') + 'socket='.length);
  let proc: ChildProcess | undefined;
  let stderr = '';
  const launch = async () => {
    stderr = '';
    proc = spawn('bash', [SCRIPT, abs], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (b) => (stderr += String(b)));
    const p = proc;
    const exited = new Promise<never>((_, reject) => p.once('exit', (code) => reject(new Error(`libvirtd exited with ${code}: ${stderr.trim()}`))));
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      until('the session libvirtd\'s socket', () => fs.existsSync(sock), { timeoutMs: opts.timeoutMs ?? 20_000, everyMs: 100, context: () => stderr }),
    ]);
  };
  const d: SessionLibvirtd = {
    dir: abs,
    uri,
    stateDir: path.join(abs, 'state'),
    get pid() {
      return proc?.pid;
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
      // so that start() waits for the new daemon's socket, not this one's leftover
      fs.rmSync(sock, { force: true });
    },
    start: launch,
  };
  await launch();
  return d;
}
