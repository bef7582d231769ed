// `stratus admin user|token ...`: users and system tokens (cluster administrators only).
//   admin user create NAME [--group G]... [--description D]
//   admin user list | get NAME | delete NAME
//   admin user update NAME [--group G]... [--disable | --enable]
//   admin token create --user NAME [--ttl 24h] [--description D]    prints the token (shown once)
//   admin token list [--user NAME]
//   admin token revoke ID...

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { UsageError } from '../errors/usage-error';
import { formatAge, formatTable, toJson, toYaml } from '../output';
import { collect } from './common';

interface User { name: string; groups: string[]; disabled: boolean; description?: string; createdAt: string }
interface Token { id: string; user: string; groups: string[]; source: string; expiresAt: string; createdAt: string; createdBy?: string; description?: string; token?: string }

function printOut(ctx: CommandContext, value: unknown, table: () => string): void {
  const format = ctx.output(['json', 'yaml', 'name']);
  if (format.type === 'json') ctx.out(toJson(value));
  else if (format.type === 'yaml') ctx.out(toYaml(value));
  else ctx.out(table());
}

function usersTable(ctx: CommandContext, users: User[]): string {
  const now = ctx.io.now();
  return formatTable(['NAME', 'GROUPS', 'DISABLED', 'AGE'], users.map((u) => [u.name, u.groups.join(',') || '<none>', String(u.disabled), formatAge(u.createdAt, now)]));
}

function tokensTable(ctx: CommandContext, tokens: Token[]): string {
  const now = ctx.io.now();
  const left = (t: Token) => {
    const ms = Date.parse(t.expiresAt) - now;
    return ms > 0 ? formatAge(new Date(now - ms).toISOString(), now) : 'expired';
  };
  return formatTable(['ID', 'USER', 'SOURCE', 'EXPIRES IN', 'AGE', 'DESCRIPTION'],
    tokens.map((t) => [t.id, t.user, t.source, left(t), formatAge(t.createdAt, now), t.description ?? '']));
}

export function register(program: Command, run: CommandRunner): void {
  const admin = program.command('admin').description('Manage users and tokens (cluster administrators)');
  const user = admin.command('user').description('Users of system tokens');
  user.command('create')
    .argument('<name>', 'user name')
    .option('--group <group>', 'a group of the user (repeatable, or comma-separated)', collect)
    .option('--description <text>', 'what the user is for')
    .action(async (name: string, opts: { group?: string[]; description?: string }, cmd: Command) => run(cmd, async (ctx) => {
      const { body } = await ctx.client.request<User>('POST', '/admin/v1/users', { body: { name, groups: opts.group ?? [], description: opts.description } });
      printOut(ctx, body, () => `user/${body.name} created\n`);
      return 0;
    }));
  user.command('list')
    .action(async (_o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      const list = await ctx.client.get<{ items: User[] }>('/admin/v1/users');
      printOut(ctx, list, () => usersTable(ctx, list.items));
      return 0;
    }));
  user.command('get')
    .argument('<name>', 'user name')
    .action(async (name: string, _o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      const u = await ctx.client.get<User>(`/admin/v1/users/${encodeURIComponent(name)}`);
      printOut(ctx, u, () => usersTable(ctx, [u]));
      return 0;
    }));
  user.command('update')
    .argument('<name>', 'user name')
    .option('--group <group>', 'the user\'s groups, replacing the current ones (repeatable)', collect)
    .option('--disable', 'refuse every token of the user')
    .option('--enable', 'accept the user\'s tokens again')
    .option('--description <text>', 'what the user is for')
    .action(async (name: string, opts: { group?: string[]; disable?: boolean; enable?: boolean; description?: string }, cmd: Command) => run(cmd, async (ctx) => {
      if (opts.disable && opts.enable) throw new UsageError('--disable and --enable are mutually exclusive');
      const change = { groups: opts.group, disabled: opts.disable ? true : opts.enable ? false : undefined, description: opts.description };
      const { body } = await ctx.client.request<User>('PATCH', `/admin/v1/users/${encodeURIComponent(name)}`, { body: change });
      printOut(ctx, body, () => `user/${body.name} updated\n`);
      return 0;
    }));
  user.command('delete')
    .argument('<name>', 'user name')
    .description('Delete a user and revoke all of their tokens')
    .action(async (name: string, _o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      await ctx.client.request('DELETE', `/admin/v1/users/${encodeURIComponent(name)}`);
      ctx.out(`user/${name} deleted\n`);
      return 0;
    }));

  const token = admin.command('token').description('System bearer tokens');
  token.command('create')
    .requiredOption('--user <name>', 'the (existing) user the token authenticates')
    .option('--ttl <duration>', 'lifetime, e.g. 1h, 24h, 7d (default: the server\'s, 24h)')
    .option('--description <text>', 'what the token is for')
    .action(async (opts: { user: string; ttl?: string; description?: string }, cmd: Command) => run(cmd, async (ctx) => {
      const { body } = await ctx.client.request<Token>('POST', '/admin/v1/tokens', { body: { user: opts.user, ttl: opts.ttl, description: opts.description } });
      printOut(ctx, body, () => `${body.token}\n`);
      ctx.errLine(`token ${body.id} for user ${body.user}, expires ${body.expiresAt} (shown once: store it now)`);
      return 0;
    }));
  token.command('list')
    .option('--user <name>', 'only this user\'s tokens')
    .action(async (opts: { user?: string }, cmd: Command) => run(cmd, async (ctx) => {
      const list = await ctx.client.get<{ items: Token[] }>('/admin/v1/tokens', { query: { user: opts.user } });
      printOut(ctx, list, () => tokensTable(ctx, list.items));
      return 0;
    }));
  token.command('revoke')
    .argument('<id...>', 'token ids (see token list)')
    .action(async (ids: string[], _o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      for (const id of ids) {
        await ctx.client.request('DELETE', `/admin/v1/tokens/${encodeURIComponent(id)}`);
        ctx.out(`token/${id} revoked\n`);
      }
      return 0;
    }));
}
