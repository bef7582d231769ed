#!/usr/bin/env node
/**
 * The fence guard process (fence-guard.ts spawns it: `node fence-guard-main.js URI HOST`). Reads
 * "alive <ms>" and "disarm" lines on stdin. Past the last deadline with no extension, destroys the
 * running or paused domains of URI whose owner mark names HOST, then waits for the next word; once
 * stdin has closed (the agent died) it exits after that fence, or at once if it was never armed.
 */
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { OWNER_NS, parseOwner } from '../domain';

const run = promisify(execFile);

async function virsh(uri: string, args: string[]): Promise<string> {
  return (await run('virsh', ['-q', '-c', uri, ...args], { timeout: 30_000 })).stdout;
}

/** Destroys HOST's Stratus domains that run (or are paused) on URI; the names destroyed. */
export async function destroyOwnedDomains(uri: string, host: string): Promise<string[]> {
  const names = new Set<string>();
  for (const state of ['--state-running', '--state-paused']) {
    for (const n of (await virsh(uri, ['list', '--name', state])).split('\n').map((s) => s.trim()).filter(Boolean)) names.add(n);
  }
  const out: string[] = [];
  await Promise.all([...names].map(async (name) => {
    const meta = await virsh(uri, ['metadata', name, '--uri', OWNER_NS]).catch(() => '');
    if (parseOwner(meta)?.host !== host) return;
    await virsh(uri, ['destroy', name]).then(() => out.push(name), (err) => process.stderr.write(`fence-guard: destroying ${name} failed: ${String(err)}\n`));
  }));
  return out;
}

function main(argv: string[]): void {
  const [uri, host] = argv;
  if (!uri || !host) {
    process.stderr.write('usage: fence-guard-main URI HOST\n');
    process.exit(2);
  }
  let deadline: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = async (): Promise<void> => {
    deadline = undefined;
    try {
      const stopped = await destroyOwnedDomains(uri, host);
      process.stderr.write(`${JSON.stringify({ msg: 'fence guard: the agent did not extend its deadline; destroyed its domains', uri, host, stopped })}\n`);
    } catch (err) {
      process.stderr.write(`fence-guard: fencing ${uri} failed: ${String(err)}\n`);
    }
    if (closed && deadline === undefined) process.exit(0);
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line === 'disarm') {
      clearTimeout(timer);
      process.exit(0);
    }
    const m = /^alive (\d+)$/.exec(line.trim());
    if (!m) return;
    deadline = performance.now() + Number(m[1]);
    clearTimeout(timer);
    timer = setTimeout(() => void fire(), Math.max(0, deadline - performance.now()));
  });
  rl.on('close', () => {
    closed = true;
    if (deadline === undefined) process.exit(0);
  });
  // SIGTERM alone (an operator) is not a disarm: only the agent's word is.
  process.on('SIGTERM', () => undefined);
}

if (require.main === module) main(process.argv.slice(2));
