/**
 * Runs a host networking command (ip, nft, bridge), optionally inside a network namespace
 * (`ip netns exec <ns> …`, which tests use to keep the real host untouched). Arguments go to
 * execFile, never through a shell; failures carry the command line and the tool's stderr.
 */
import { execFile } from 'node:child_process';

export interface RunOptions {
  /** written to the command's stdin (e.g. a ruleset for `nft -f -`) */
  input?: string;
  /** default 30 000 ms */
  timeoutMs?: number;
}

const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function runIn(netns: string | undefined, cmd: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string }> {
  if (netns !== undefined && !NETNS.test(netns)) throw new Error(`invalid network namespace name ${JSON.stringify(netns)}`);
  const [file, argv] = netns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
  const line = [file, ...argv].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout: String(stdout) });
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const why = e.code === 'ENOENT' ? 'not found' : e.killed ? 'timed out' : String(stderr).trim().split('\n').slice(-5).join('; ') || e.message;
      reject(new Error(`${line} failed: ${why}`, { cause: err }));
    });
    // a command that exits before reading its input must not crash the process with EPIPE
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}
