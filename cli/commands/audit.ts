// `stratus audit`: the audit log of mutating requests, newest first (cluster administrators).
//   audit [--since 1h|RFC3339] [--until ...] [--user U] [--project P] [--limit 100] [-o json|yaml]

import { Command, InvalidArgumentError } from 'commander';
import type { CommandRunner } from '../context';
import { parseDuration } from '../duration';
import { formatTable, toJson, toYaml } from '../output';

interface AuditRecord {
  time: string; user: string; verb: string; resource: string; namespace?: string; name?: string; subresource?: string;
  code: number; reason?: string; dryRun: boolean; sourceIp?: string; requestId: string; latencyMs: number;
}

/** A point in time: an RFC 3339 time, or a duration before now (1h, 30m). */
export function timeArg(now: () => number) {
  return (v: string): number => {
    if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
      const t = Date.parse(v);
      if (Number.isFinite(t)) return t;
    } else {
      try {
        return now() - parseDuration(v, '--since');
      } catch { /* below */ }
    }
    throw new InvalidArgumentError(`"${v}" is neither a duration (1h, 30m) nor an RFC 3339 time`);
  };
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('audit')
    .description('Show the audit log: who changed what, when, and the answer (cluster administrators)')
    .option('--since <when>', 'from this time, or this long ago (default 24h)', timeArg(Date.now))
    .option('--until <when>', 'up to this time, or this long ago (default now)', timeArg(Date.now))
    .option('--user <name>', 'only this user\'s requests')
    .option('--project <name>', 'only requests in this project')
    .option('--limit <n>', 'at most this many records (default 100)', (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('a positive number');
      return Number(v);
    })
    .action(async (opts: { since?: number; until?: number; user?: string; project?: string; limit?: number }, cmd: Command) => run(cmd, async (ctx) => {
      const format = ctx.output(['json', 'yaml']);
      const list = await ctx.client.get<{ items: AuditRecord[] }>('/admin/v1/audit', {
        query: { since: opts.since, until: opts.until, user: opts.user, namespace: opts.project, limit: opts.limit },
      });
      if (format.type === 'json') ctx.out(toJson(list));
      else if (format.type === 'yaml') ctx.out(toYaml(list));
      else {
        const rows = list.items.map((r) => [
          r.time.replace(/\.\d+Z$/, 'Z'), r.user, r.verb + (r.dryRun ? ' (dry run)' : ''),
          r.resource + (r.subresource ? `/${r.subresource}` : ''), r.namespace ?? '', r.name ?? '', String(r.code) + (r.reason ? ` ${r.reason}` : ''),
        ]);
        ctx.out(rows.length ? formatTable(['TIME', 'USER', 'VERB', 'RESOURCE', 'PROJECT', 'NAME', 'RESULT'], rows) : 'No audit records found.\n');
      }
      return 0;
    }));
}
