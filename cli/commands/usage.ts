// `stratus usage --project P [--from T] [--to T] [--by vm|hour]`: accounting of a project
// (cpu-seconds, memory-MiB-seconds, disk-GiB-seconds per VM, from the agents' hourly records).

import { Command, InvalidArgumentError } from 'commander';
import type { CommandRunner } from '../context';
import { formatTable, toJson, toYaml } from '../output';
import { timeArg } from './audit';

interface UsageRow { namespace: string; name: string; uid: string; hour?: string; cpuSeconds: number; memoryMiBSeconds: number; diskGiBSeconds: number; runningSeconds: number }

export function register(program: Command, run: CommandRunner): void {
  program
    .command('usage')
    .description('Accounting of a project: cpu-seconds, memory-MiB-seconds and disk-GiB-seconds per VM')
    .option('--project <name>', 'the project (default: -n or the config\'s namespace)')
    .option('--from <when>', 'start: an RFC 3339 time or a duration ago (default 24h)', timeArg(Date.now))
    .option('--to <when>', 'end: an RFC 3339 time or a duration ago (default now)', timeArg(Date.now))
    .option('--by <grouping>', 'vm (default) or hour', (v) => {
      if (v !== 'vm' && v !== 'hour') throw new InvalidArgumentError('vm or hour');
      return v;
    })
    .action(async (opts: { project?: string; from?: number; to?: number; by?: string }, cmd: Command) => run(cmd, async (ctx) => {
      const format = ctx.output(['json', 'yaml']);
      const project = opts.project ?? ctx.namespace;
      const report = await ctx.client.get<{ items: UsageRow[]; from: string; to: string }>(
        `/apis/metrics.stratuslab.eu/v1alpha1/namespaces/${encodeURIComponent(project)}/usage`,
        { query: { from: opts.from, to: opts.to, groupBy: opts.by } },
      );
      if (format.type === 'json') { ctx.out(toJson(report)); return 0; }
      if (format.type === 'yaml') { ctx.out(toYaml(report)); return 0; }
      const byHour = opts.by === 'hour';
      const rows = report.items.map((r) => [
        ...(byHour ? [r.hour ?? ''] : []), r.name, String(Math.round(r.cpuSeconds)), String(Math.round(r.memoryMiBSeconds)),
        String(Math.round(r.diskGiBSeconds)), String(Math.round(r.runningSeconds)),
      ]);
      const headers = [...(byHour ? ['HOUR'] : []), 'VM', 'CPU-SECONDS', 'MEMORY-MIB-SECONDS', 'DISK-GIB-SECONDS', 'RUNNING-SECONDS'];
      ctx.out(`Usage of project ${project} from ${report.from} to ${report.to}\n`);
      ctx.out(rows.length ? formatTable(headers, rows) : 'No usage recorded in this range.\n');
      return 0;
    }));
}
