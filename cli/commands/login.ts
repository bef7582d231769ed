// `stratus login`, `stratus logout`, `stratus whoami`: getting a token into the CLI config.
//   login --token T                 checks T with the server and stores it
//   login -u USER [--password-stdin] exchanges directory (LDAP) credentials for a system token
//   logout                          revokes the stored token and removes it from the config
//   whoami                          the user and groups the server sees

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { Agent, fetch } from 'undici';
import YAML from 'yaml';
import { ApiClient, isConnectionError } from '../client';
import type { CommandContext, CommandRunner } from '../context';
import { ApiError } from '../errors/api-error';
import { CliError } from '../errors/cli-error';
import { ConnectionError, type ConnectionAttempt } from '../errors/connection-error';
import { UsageError } from '../errors/usage-error';
import { toJson, toYaml } from '../output';
import { clientVersion } from '../version';

interface WhoAmI {
  user: string;
  groups: string[];
  authenticator: string;
  tokenId?: string;
  admin?: boolean;
}

interface IssuedToken {
  token: string;
  id: string;
  user: string;
  expiresAt: string;
}

/** Sets keys of the CLI config file, keeping its other keys and comments; the file is private (0600). */
export async function updateConfigFile(file: string, set: Record<string, unknown>, remove: string[] = []): Promise<void> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const doc = text.trim() ? YAML.parseDocument(text) : new YAML.Document({});
  if (doc.errors.length > 0) throw new CliError(`error parsing config file ${file}: ${doc.errors[0].message}`);
  if (!YAML.isMap(doc.contents)) throw new CliError(`error parsing config file ${file}: expected a mapping`);
  for (const [k, v] of Object.entries(set)) doc.set(k, v);
  for (const k of remove) doc.delete(k);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, doc.toString(), { mode: 0o600 });
  await fs.rename(tmp, file);
}

async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  let data = '';
  for await (const chunk of stream) data += chunk.toString();
  return data.replace(/\r?\n$/, '');
}

/** POST with Basic credentials, trying the servers in order on connection errors. */
async function exchangeBasic(ctx: CommandContext, username: string, password: string, ttl: string | undefined): Promise<IssuedToken> {
  const servers = ctx.settings.servers;
  if (servers.length === 0) throw new ConnectionError([]);
  const dispatcher = new Agent({ connect: { timeout: 5000, ...(ctx.settings.caPem ? { ca: ctx.settings.caPem } : {}) } });
  const attempts: ConnectionAttempt[] = [];
  try {
    for (const server of servers) {
      let res;
      try {
        res = await fetch(`${server.replace(/\/+$/, '')}/auth/v1/tokens`, {
          method: 'POST', dispatcher,
          headers: {
            authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
            'content-type': 'application/json', accept: 'application/json', 'user-agent': `stratus/${clientVersion()}`,
          },
          body: JSON.stringify({ ttl, description: 'stratus login' }),
        });
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        attempts.push({ server, errorCode: 'ECONNREFUSED', message: String((err as Error).message) });
        continue;
      }
      const text = await res.text();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      if (res.status >= 400) throw ApiError.fromResponse(res.status, body, res.statusText);
      return body as IssuedToken;
    }
    throw new ConnectionError(attempts);
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}

async function whoAmI(ctx: CommandContext, token?: string): Promise<WhoAmI> {
  if (token === undefined) return ctx.client.get<WhoAmI>('/auth/v1/whoami');
  const client = new ApiClient({ servers: ctx.settings.servers, token, caPem: ctx.settings.caPem, userAgent: `stratus/${clientVersion()}` });
  try {
    return await client.get<WhoAmI>('/auth/v1/whoami');
  } finally {
    await client.close();
  }
}

interface LoginOptions {
  username?: string;
  passwordStdin?: boolean;
  ttl?: string;
}

export async function loginCommand(ctx: CommandContext, opts: LoginOptions, flags: { token?: string; server?: string; ca?: string }): Promise<number> {
  const tokenFlag = flags.token;
  let token: string;
  let note = '';
  if (opts.username) {
    if (!opts.passwordStdin) throw new UsageError('give the password on standard input with --password-stdin (e.g. `stratus login -u alice --password-stdin < file`)');
    const password = await readStdin(ctx.io.stdin);
    if (password === '') throw new UsageError('an empty password was given on standard input');
    const issued = await exchangeBasic(ctx, opts.username, password, opts.ttl);
    token = issued.token;
    note = ` (token ${issued.id}, expires ${issued.expiresAt})`;
  } else if (tokenFlag) {
    token = tokenFlag;
  } else {
    throw new UsageError('say how to log in: --token TOKEN, or -u USER --password-stdin');
  }
  const me = await whoAmI(ctx, token);
  const set: Record<string, unknown> = { token };
  // Servers and CA given on the command line are remembered too (a first login sets up the config).
  if (flags.server) set['servers'] = ctx.settings.servers;
  if (flags.ca) set['ca'] = path.resolve(flags.ca);
  await updateConfigFile(ctx.settings.configPath, set);
  ctx.out(`Logged in as ${me.user}${note}; the token is in ${ctx.settings.configPath}\n`);
  return 0;
}

export async function logoutCommand(ctx: CommandContext): Promise<number> {
  if (ctx.settings.token) {
    try {
      await ctx.client.request('DELETE', '/auth/v1/tokens/self');
    } catch (err) {
      // A token that is already invalid is as good as revoked.
      if (!(err instanceof ApiError && (err.status === 401 || err.status === 400))) throw err;
    }
  }
  await updateConfigFile(ctx.settings.configPath, {}, ['token']);
  ctx.out('Logged out\n');
  return 0;
}

export async function whoamiCommand(ctx: CommandContext): Promise<number> {
  const format = ctx.output(['json', 'yaml']);
  const me = await whoAmI(ctx);
  if (format.type === 'json') ctx.out(toJson(me));
  else if (format.type === 'yaml') ctx.out(toYaml(me));
  else {
    ctx.out(`User:          ${me.user}\n`);
    ctx.out(`Groups:        ${me.groups.join(', ') || '<none>'}\n`);
    ctx.out(`Authenticator: ${me.authenticator}${me.tokenId ? ` (token ${me.tokenId})` : ''}\n`);
    if (me.admin) ctx.out('Administrator: yes\n');
  }
  return 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('login')
    .description('Store a bearer token in the CLI config: --token TOKEN, or a token exchanged for directory (LDAP) credentials')
    .option('-u, --username <user>', 'directory user name (the password is read from standard input)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--ttl <duration>', 'lifetime of the issued token, e.g. 8h, 7d (default: the server\'s)')
    .action(async (opts: LoginOptions, cmd: Command) => run(cmd, (ctx) => loginCommand(ctx, opts, cmd.optsWithGlobals() as { token?: string; server?: string; ca?: string })));
  program
    .command('logout')
    .description('Revoke the stored token and remove it from the CLI config')
    .action(async (_opts: unknown, cmd: Command) => run(cmd, (ctx) => logoutCommand(ctx)));
  program
    .command('whoami')
    .description('Print the user and groups the server sees for the current credentials')
    .action(async (_opts: unknown, cmd: Command) => run(cmd, (ctx) => whoamiCommand(ctx)));
}
