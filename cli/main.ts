// Entry point of the `stratus` CLI: global flags, the command table, and the mapping of every
// outcome to an exit code (0 ok, 1 failure, 2 usage). Never prints a stack trace.

import { Command, CommanderError } from 'commander';
import { createContext, defaultIO, type CliIO, type CommandContext, type CommandRunner } from './context';
import type { GlobalFlags } from './config';
import { exitCodeOf, formatError } from './errors/format';
import { normalizeBooleanFlags } from './commands/common';
import * as apply from './commands/apply';
import * as del from './commands/delete';
import * as describe from './commands/describe';
import * as diff from './commands/diff';
import * as get from './commands/get';
import * as version from './commands/version';
import * as consoleCmd from './commands/console';
import * as wait from './commands/wait';
import * as login from './commands/login';
import * as admin from './commands/admin';
import * as audit from './commands/audit';
import * as hostCmd from './commands/host';
import * as top from './commands/top';
import * as usage from './commands/usage';
import * as vmActions from './commands/actions';
import * as ssh from './commands/ssh';

export type { CliIO } from './context';

/** Each command registers itself; add new ones (top, usage, login, host cordon...) here. */
const COMMANDS: Array<{ register(program: Command, run: CommandRunner): void }> = [apply, get, describe, del, wait, diff, version, login, admin, audit, hostCmd, top, usage, ssh, vmActions, consoleCmd];

export function buildProgram(io: CliIO, run: CommandRunner): Command {
  const program = new Command('stratus');
  program
    .description('Command-line client of the Stratus VM cloud (a Kubernetes-style API, group stratuslab.eu/v1alpha1)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(run 'stratus <command> --help' for usage)")
    .option('--server <url[,url...]>', 'API servers, tried in order on connection errors (overrides the config)')
    .option('--token <token>', 'bearer token (overrides the config)')
    .option('--config <path>', 'config file (default: $STRATUS_CONFIG, else ~/.stratus/config.yaml)')
    .option('--ca <path>', 'PEM file of the CA that signed the servers\' certificates (overrides the config)')
    .option('-n, --namespace <project>', 'project (namespace) of namespaced objects')
    .option('-A, --all-namespaces', 'list across all projects')
    .option('-o, --output <format>', 'output format: wide, yaml, json, name, jsonpath=TEMPLATE')
    .option('-v, --verbose', 'print each request on stderr');
  for (const c of COMMANDS) c.register(program, run);
  return program;
}

/**
 * Runs the CLI on `argv` (process.argv-style: node, script, args...) and resolves to the exit code.
 * Touches no process state: tests and the end-to-end suite pass their own streams in `io`.
 */
export async function run(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const fullIO: CliIO = { ...defaultIO(), ...io };
  let exitCode = 0;
  const contexts: CommandContext[] = [];
  const runner: CommandRunner = async (cmd, body) => {
    const ctx = await createContext(cmd.optsWithGlobals() as GlobalFlags, fullIO);
    contexts.push(ctx);
    exitCode = await body(ctx);
  };
  try {
    const program = buildProgram(fullIO, runner);
    await program.parseAsync([...argv.slice(0, 2), ...normalizeBooleanFlags(argv.slice(2))], { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError || (err as { code?: unknown })?.code?.toString().startsWith('commander.')) {
      // commander has already printed its message (or the help)
      exitCode = (err as CommanderError).exitCode === 0 ? 0 : 2;
    } else {
      try {
        fullIO.stderr.write(`${formatError(err)}\n`);
      } catch {
        // nowhere left to report
      }
      exitCode = exitCodeOf(err);
    }
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
  }
  return exitCode;
}

/** The `bin/stratus.js` entry: runs with the real process streams and sets process.exitCode. */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  // `stratus get vm | head` must not crash when head exits: nothing more can be written anyway
  if (!io.stdout) process.stdout.on('error', () => undefined);
  let code: number;
  try {
    code = await run(argv, io);
  } catch (err) {
    code = exitCodeOf(err);
  }
  process.exitCode = code;
  return code;
}
