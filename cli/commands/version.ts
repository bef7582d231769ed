// `stratus version [--client]`: the client's version and the server's `/version`.

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { formatError } from '../errors/format';
import { toJson, toYaml } from '../output';
import { clientVersion } from '../version';

export async function versionCommand(ctx: CommandContext, opts: { client?: boolean }): Promise<number> {
  const format = ctx.output(['json', 'yaml']);
  const client = { gitVersion: `v${clientVersion()}`, platform: `${process.platform}/${process.arch}`, nodeVersion: process.version };
  let server: Record<string, unknown> | undefined;
  let error: unknown;
  if (!opts.client) {
    try {
      server = await ctx.client.get<Record<string, unknown>>('/version');
    } catch (err) {
      error = err;
    }
  }
  if (format.type === 'json' || format.type === 'yaml') {
    const data = { clientVersion: client, ...(server ? { serverVersion: server } : {}) };
    ctx.out(format.type === 'json' ? toJson(data) : toYaml(data));
  } else {
    ctx.out(`Client Version: ${client.gitVersion}\n`);
    if (server) ctx.out(`Server Version: ${String(server.gitVersion ?? `v${server.major ?? '?'}.${server.minor ?? '?'}`)}\n`);
  }
  if (error !== undefined) {
    ctx.errLine(formatError(error));
    return 1;
  }
  return 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('version')
    .description('Print the client version and the server version')
    .option('--client', 'client version only (no request)')
    .action(async (opts: { client?: boolean }, cmd: Command) => run(cmd, (ctx) => versionCommand(ctx, opts)));
}
