// `stratus start|stop|restart NAME`: the API's VM actions (PUT …/virtualmachines/NAME/start|stop|
// restart), which respect runStrategy; --grace for stop and restart, --dry-run, and --wait.

import { Command, InvalidArgumentError, Option } from 'commander';
import type { Status } from '../../kube/wire';
import type { CommandContext, CommandRunner } from '../context';
import { WaitTimeoutError } from '../errors/timeout-error';
import { objectRef, resolveKindOrThrow, resourcePath } from '../resources';
import { durationArg } from './common';

type Action = 'start' | 'stop' | 'restart';

export interface ActionOptions {
  /** seconds */
  grace?: number;
  dryRun?: string;
  wait?: boolean;
  /** ms */
  timeout?: number;
}

export const DEFAULT_ACTION_TIMEOUT_MS = 300_000;

const DESCRIPTIONS: Record<Action, string> = {
  start: 'Start a VM: Halted becomes Always; a Manual (or cleanly shut down RerunOnFailure) VM gets a start request',
  stop: 'Stop a VM: Always and RerunOnFailure become Halted; a Manual VM gets a stop request',
  restart: 'Restart a running VM: its agent shuts the guest down (up to the grace period), then boots it again',
};

/** What --wait waits for: the phase, with no request of the VM still waiting. */
const WANTED: Record<Action, string> = { start: 'Running', stop: 'Stopped', restart: 'Running' };

/** --grace: seconds, or a duration (30s, 2m); 0 powers the guest off at once. */
function graceArg(value: string): number {
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : durationArg('--grace')(value);
  if (!Number.isFinite(ms) || ms < 0 || ms > 86_400_000) throw new InvalidArgumentError('must be a number of seconds (or a duration such as 30s) from 0 to 24h');
  return Math.ceil(ms / 1000);
}

interface VmView {
  metadata: { uid?: string; generation?: number };
  status?: { phase?: string; observedGeneration?: number; stateChangeRequests?: { uid: string }[] };
}

async function waitFor(ctx: CommandContext, path: string, name: string, phase: string, timeoutMs: number): Promise<void> {
  const deadline = ctx.io.now() + timeoutMs;
  let seen = '';
  for (;;) {
    const vm = await ctx.client.get<VmView>(path);
    const st = vm.status ?? {};
    const waiting = (st.stateChangeRequests ?? []).filter((r) => r.uid === vm.metadata.uid).length;
    const current = (st.observedGeneration ?? 0) >= (vm.metadata.generation ?? 0);
    seen = `${st.phase ?? 'Pending'}${waiting > 0 ? `, ${waiting} request(s) waiting` : ''}`;
    if (st.phase === phase && waiting === 0 && current) return;
    if (ctx.io.now() >= deadline) throw new WaitTimeoutError(`timed out waiting for ${name} to be ${phase} (it is ${seen})`);
    if (ctx.io.signal?.aborted) throw new WaitTimeoutError(`stopped waiting for ${name} to be ${phase} (it is ${seen})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function act(ctx: CommandContext, action: Action, name: string, opts: ActionOptions): Promise<number> {
  const kind = resolveKindOrThrow('vm');
  const path = resourcePath(kind, { namespace: ctx.namespace, name });
  const dryRun = opts.dryRun === 'server';
  const body = opts.grace !== undefined ? { gracePeriodSeconds: opts.grace } : undefined;
  const res = await ctx.client.request<Status>('PUT', `${path}/${action}`, { body, query: { dryRun: dryRun ? 'All' : undefined } });
  const ref = objectRef(kind, name);
  ctx.out(`${ref}: ${res.body.message ?? `${action} accepted`}\n`);
  if (opts.wait && !dryRun) {
    await waitFor(ctx, path, ref, WANTED[action], opts.timeout ?? DEFAULT_ACTION_TIMEOUT_MS);
    ctx.out(`${ref} ${WANTED[action] === 'Running' ? 'running' : 'stopped'}\n`);
  }
  return 0;
}

export function register(program: Command, run: CommandRunner): void {
  for (const action of ['start', 'stop', 'restart'] as const) {
    const c = program.command(action)
      .summary(`${action[0].toUpperCase()}${action.slice(1)} a VM, as its runStrategy allows`)
      .description(`${DESCRIPTIONS[action]}.\nImpossible actions (start a running VM, stop a stopped one) fail with the server's reason (exit 1).`)
      .argument('<name>', 'the VM (in -n, else the config\'s project)');
    if (action !== 'start') c.option('--grace <seconds>', 'how long the guest gets to shut down before it is powered off (0: at once; default: the agent\'s)', graceArg);
    c.addOption(new Option('--dry-run [strategy]', 'server: check with the server without changing anything').choices(['none', 'server']).preset('server'))
      .option('--wait', `wait until the VM is ${WANTED[action]} and its request carried out`)
      .option('--no-wait', 'return once the server has accepted the action (the default)')
      .option('--timeout <duration>', 'how long --wait waits (default 5m)', durationArg('--timeout'))
      .action(async (name: string, opts: ActionOptions, cmd: Command) => run(cmd, (ctx) => act(ctx, action, name, opts)));
  }
}
