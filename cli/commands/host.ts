// `stratus host cordon|uncordon|drain NAME`: take a hypervisor out of placement, bring it back, or
// move every VM off it. Drain cordons the host, asks the controllers to move its VMs (annotation
// stratuslab.eu/drain), and waits until no VM is bound to it.

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { resolveKindOrThrow, resourcePath } from '../resources';
import { durationArg } from './common';

const DRAIN_ANNOTATION = 'stratuslab.eu/drain';
const MERGE = 'application/merge-patch+json';

async function patchHost(ctx: CommandContext, name: string, patch: unknown): Promise<void> {
  const host = resolveKindOrThrow('host');
  await ctx.client.request('PATCH', resourcePath(host, { name }), { body: patch, contentType: MERGE, query: { fieldManager: 'stratus-host' } });
}

async function boundVms(ctx: CommandContext, name: string): Promise<string[]> {
  const vm = resolveKindOrThrow('vm');
  const list = await ctx.client.get<{ items: { metadata: { namespace: string; name: string } }[] }>(resourcePath(vm, {}), {
    query: { fieldSelector: `status.host=${name}`, limit: 500 },
  });
  return list.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
}

export function register(program: Command, run: CommandRunner): void {
  const host = program.command('host').description('Cordon, uncordon or drain a hypervisor host');
  host.command('cordon <name>').description('Mark a host unschedulable: no new VM is placed there')
    .action(async (name: string, _o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      await patchHost(ctx, name, { spec: { unschedulable: true } });
      ctx.out(`host.stratuslab.eu/${name} cordoned\n`);
      return 0;
    }));
  host.command('uncordon <name>').description('Make a host schedulable again (and end a drain)')
    .action(async (name: string, _o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      await patchHost(ctx, name, { spec: { unschedulable: false }, metadata: { annotations: { [DRAIN_ANNOTATION]: null } } });
      ctx.out(`host.stratuslab.eu/${name} uncordoned\n`);
      return 0;
    }));
  host.command('drain <name>').description('Cordon a host and move its VMs elsewhere; waits until none is left')
    .option('--timeout <duration>', 'how long to wait (default 5m)', durationArg('--timeout'))
    .option('--wait', 'wait until the host is empty (the default; --wait=false or --no-wait to return at once)')
    .option('--no-wait', 'return once the drain is requested')
    .action(async (name: string, opts: { timeout?: number; wait?: boolean }, cmd: Command) => run(cmd, async (ctx) => {
      await patchHost(ctx, name, { spec: { unschedulable: true }, metadata: { annotations: { [DRAIN_ANNOTATION]: 'true' } } });
      ctx.out(`host.stratuslab.eu/${name} cordoned\n`);
      if (opts.wait === false) return 0;
      const deadline = Date.now() + (opts.timeout ?? 300_000);
      let last = -1;
      for (;;) {
        const left = await boundVms(ctx, name);
        if (left.length === 0) break;
        if (left.length !== last) ctx.errLine(`waiting for ${left.length} VM(s) to move off ${name}: ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}`);
        last = left.length;
        if (Date.now() > deadline) {
          ctx.errLine(`error: timed out draining host ${name}: ${left.length} VM(s) still bound`);
          return 1;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      ctx.out(`host.stratuslab.eu/${name} drained\n`);
      return 0;
    }));
}
