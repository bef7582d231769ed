// `stratus ssh [USER@]NAME [-- COMMAND...]` and `stratus scp SRC DST` ([USER@]NAME:PATH): read the
// VM, find its SSH endpoint in status, and run the system ssh/scp with the user's key.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { CliError } from '../errors/cli-error';
import { UsageError } from '../errors/usage-error';
import { resolveKindOrThrow, resourcePath } from '../resources';
import {
  DEFAULT_SSH_USER, knownHostsFor, parseCopyPath, parseSshTarget, scpArgs, shellQuote, sshArgs, sshEndpoint,
  type CopyPath, type SshEndpoint, type SshHost, type SshOptions, type SshVm,
} from '../ssh';
import { collect } from './common';

interface SshFlags {
  user?: string;
  identityFile?: string;
  sshOption?: string[];
  recursive?: boolean;
}

/** Reads the VM and finds its SSH endpoint (with its Host, when this user may read it). */
async function endpointOf(ctx: CommandContext, name: string): Promise<SshEndpoint> {
  const vm = await ctx.client.get<SshVm>(resourcePath(resolveKindOrThrow('vm'), { namespace: ctx.namespace, name }));
  const hostName = vm.status?.phase === 'Running' ? vm.status.host : undefined;
  const host = hostName
    ? await ctx.client.get<SshHost>(resourcePath(resolveKindOrThrow('host'), { name: hostName })).catch(() => undefined)
    : undefined;
  return sshEndpoint(vm, host);
}

/** The user (USER@ over --user over debian), the key and the known_hosts file. */
async function sshOptions(ctx: CommandContext, flags: SshFlags, userInTarget: string | undefined): Promise<SshOptions> {
  if (userInTarget && flags.user && userInTarget !== flags.user) {
    throw new UsageError(`the user is given twice: ${userInTarget}@ and --user ${flags.user}`);
  }
  let identityFile: string | undefined;
  if (flags.identityFile) {
    identityFile = path.resolve(flags.identityFile);
    if (!(await exists(identityFile))) throw new CliError(`identity file ${identityFile} does not exist`);
  } else {
    // The key `npm run up` makes; without it ssh falls back on its own defaults and agent.
    const def = path.join(ctx.io.homedir, '.ssh', 'id_ed25519');
    if (await exists(def)) identityFile = def;
  }
  const knownHostsFile = knownHostsFor(ctx.settings.configPath);
  await fs.mkdir(path.dirname(knownHostsFile), { recursive: true, mode: 0o700 });
  return { user: userInTarget ?? flags.user ?? DEFAULT_SSH_USER, identityFile, knownHostsFile, options: flags.sshOption };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

async function runProgram(ctx: CommandContext, file: string, args: string[], e: SshEndpoint): Promise<number> {
  ctx.verbose(`${e.host}:${e.port} (${e.via}): ${shellQuote([file, ...args])}`);
  return ctx.io.exec(file, args);
}

function sshFlags(cmd: Command): Command {
  return cmd
    .option('-l, --user <user>', `user in the guest (default ${DEFAULT_SSH_USER}); USER@NAME does the same`)
    .option('-i, --identity-file <path>', 'private key (default ~/.ssh/id_ed25519, the key npm run up makes, when it exists)')
    .option('--ssh-option <option>', 'an ssh -o option, e.g. --ssh-option BatchMode=yes (repeatable)', collect);
}

export function register(program: Command, run: CommandRunner): void {
  sshFlags(program.command('ssh <target> [command...]'))
    .description('Open a shell in a VM (or run COMMAND there) over SSH with your key: stratus ssh [USER@]NAME [-- COMMAND...]')
    .addHelpText('after', `
The VM must be Running and have an address in its status (a port forward to its port 22 on the
hypervisor for user-mode networking, else status.ip). Host keys are kept in known_hosts beside
the CLI config under the alias stratus-<VM uid>, trusted on first use. Exits with ssh's code.`)
    .action(async (target: string, command: string[], flags: SshFlags, cmd: Command) => run(cmd, async (ctx) => {
      const t = parseSshTarget(target);
      const opts = await sshOptions(ctx, flags, t.user);
      const e = await endpointOf(ctx, t.name);
      return runProgram(ctx, 'ssh', sshArgs(e, opts, command), e);
    }));

  sshFlags(program.command('scp <source> <destination>'))
    .description('Copy files to or from a VM over SSH: stratus scp [-r] SRC DST, one of them [USER@]NAME:PATH')
    .option('-r, --recursive', 'copy folders')
    .action(async (source: string, destination: string, flags: SshFlags, cmd: Command) => run(cmd, async (ctx) => {
      const src = parseCopyPath(source);
      const dst = parseCopyPath(destination);
      const remote = [src, dst].filter((p): p is Exclude<CopyPath, { local: string }> => !('local' in p));
      if (remote.length === 0) throw new UsageError('one of SOURCE and DESTINATION must be on a VM: [USER@]NAME:PATH');
      if (remote.length === 2) throw new UsageError('copying from one VM to another is not supported: copy through this machine');
      const opts = await sshOptions(ctx, flags, remote[0].user);
      const e = await endpointOf(ctx, remote[0].name);
      return runProgram(ctx, 'scp', scpArgs(e, opts, src, dst, { recursive: flags.recursive }), e);
    }));
}
