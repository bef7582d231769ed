/**
 * FenceGuard: fencing of real (qemu) guests that does not need the agent to be alive. A frozen
 * (SIGSTOP) or killed agent cannot stop its qemu guests, which keep running while the
 * controllers start them elsewhere. So for qemu connections the agent spawns this small guard
 * process (fence-guard-main.ts) and tells it, each time its own fence deadline moves, how long it
 * is alive for ("alive <ms>", relative: the guard counts on its own monotonic clock, no wall time
 * crosses the pipe). When no extension has come by the deadline — the agent is frozen, or died and
 * the pipe closed — the guard destroys this host's Stratus domains (`virsh -c URI destroy`, domains
 * carrying the agent's owner mark for this host only), the same moment the agent would fence.
 * A clean stop of the agent disarms it ("disarm"): domains keep running, as without a guard.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { untilAborted } from '../../runtime';

export interface FenceGuardOptions {
  /** the libvirt URI of the host's guests (qemu:///system, ...) */
  uri: string;
  /** the Host name in the domains' owner mark */
  host: string;
  logger?: Logger;
  /** how to run the guard; default node fence-guard-main.js next to this file (the built agent) */
  command?: string[];
}

/** The guard's program next to this module, or undefined when running from TypeScript sources (jest). */
export function defaultGuardCommand(): string[] | undefined {
  const main = join(__dirname, 'fence-guard-main.js');
  return existsSync(main) ? [process.execPath, main] : undefined;
}

export class FenceGuard {
  readonly name = 'fence-guard';
  private child?: ChildProcess;

  constructor(private readonly o: FenceGuardOptions) {}

  /** The pid of the guard process (tests), once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The agent is alive for `ms` more (its own fence deadline); the guard fences then unless told again. */
  extend(ms: number): void {
    const c = this.child;
    if (!c?.stdin || c.stdin.destroyed || c.exitCode !== null) return;
    c.stdin.write(`alive ${Math.max(0, Math.floor(ms))}\n`);
  }

  async start(signal: AbortSignal): Promise<void> {
    const cmd = this.o.command ?? defaultGuardCommand();
    if (!cmd) {
      this.o.logger?.warn('no fence guard program (running from sources): a frozen agent cannot stop its qemu guests');
      await untilAborted(signal);
      return;
    }
    // Not killed with the agent: it must outlive a SIGKILL to fence. Its stderr is the agent's.
    const child = spawn(cmd[0], [...cmd.slice(1), this.o.uri, this.o.host], { stdio: ['pipe', 'ignore', 'inherit'] });
    this.child = child;
    child.stdin!.on('error', () => undefined); // the guard gone: nothing to tell it any more
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, sig) => {
      if (!signal.aborted) this.o.logger?.error({ code, signal: sig }, 'the fence guard exited');
    });
    this.o.logger?.info({ pid: child.pid, uri: this.o.uri }, 'fence guard started');
    await untilAborted(signal);
    // A clean stop: domains keep running.
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end('disarm\n');
      await exited;
    }
  }
}
