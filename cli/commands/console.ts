// `stratus console NAME` (the serial console of a VM, interactive: cli/console-session.ts) and
// `stratus logs NAME [--tail N] [-f]` (its console log, as kubectl logs), through the API's
// virtualmachines/NAME/console and /log subresources.

import { Command, InvalidArgumentError } from 'commander';
import type { CommandRunner } from '../context';
import { escapeName, parseEscape, runConsoleSession } from '../console-session';
import { resolveKindOrThrow, resourcePath } from '../resources';

function tailArg(value: string): number {
  if (!/^-?\d+$/.test(value) || Number(value) < -1) throw new InvalidArgumentError('a number of lines (-1: all)');
  return Number(value);
}

function stripVmPrefix(name: string): string {
  // `vm/NAME` as kubectl writes pod/NAME
  const m = /^(?:vm|vms|virtualmachine|virtualmachines)(?:\.stratuslab\.eu)?\/(.+)$/.exec(name);
  return m ? m[1] : name;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('console')
    .description('Attach the terminal to the serial console of a VM (raw mode; the escape key, Ctrl-] by default, detaches)')
    .argument('<name>', 'the VM')
    .option('--escape <key>', 'the key that detaches: ^X (a control key) or none', '^]')
    .action(async (nameArg: string, opts: { escape: string }, cmd: Command) => run(cmd, async (ctx) => {
      const escape = parseEscape(opts.escape);
      const name = stripVmPrefix(nameArg);
      const path = resourcePath(resolveKindOrThrow('vm'), { namespace: ctx.namespace, name, subresource: 'console' });
      const ws = await ctx.client.websocket(path, ['plain.stratuslab.eu']);
      ctx.verbose(escape === undefined ? 'no escape key' : `escape key ${escapeName(escape)}`);
      return runConsoleSession(ws, { stdin: ctx.io.stdin, stdout: ctx.io.stdout, stderr: ctx.io.stderr, signal: ctx.io.signal }, {
        what: `virtualmachine ${name}`, escape,
      });
    }));

  program
    .command('logs')
    .description('Print the console log of a VM (what its serial console printed, kept on its host)')
    .argument('<name>', 'the VM')
    .option('--tail <lines>', 'only the last N lines (-1: all, the default)', tailArg)
    .option('-f, --follow', 'keep printing what the console prints next')
    .action(async (nameArg: string, opts: { tail?: number; follow?: boolean }, cmd: Command) => run(cmd, async (ctx) => {
      const name = stripVmPrefix(nameArg);
      const path = resourcePath(resolveKindOrThrow('vm'), { namespace: ctx.namespace, name, subresource: 'log' });
      const query = { tailLines: opts.tail !== undefined && opts.tail >= 0 ? opts.tail : undefined, follow: opts.follow ? 'true' : undefined };
      const decoder = new TextDecoder();
      try {
        for await (const chunk of ctx.client.stream(path, { query, signal: ctx.io.signal })) ctx.out(decoder.decode(chunk, { stream: true }));
      } catch (err) {
        if (!ctx.io.signal?.aborted) throw err;
      }
      ctx.out(decoder.decode());
      return 0;
    }));
}
