// `stratus diff -f FILE|DIR|-`: what apply would change, as a unified diff between the live object and
// the server's dry-run apply result. Exit 0: no differences, 1: differences, 2: an error (kubectl's convention).

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { isNotFound } from '../errors/api-error';
import { formatError } from '../errors/format';
import { UsageError } from '../errors/usage-error';
import { readManifests, sortByKindOrder, type Manifest } from '../manifests';
import { toYaml } from '../output';
import { resourcePath } from '../resources';
import { API_VERSION } from '../../schemas/kinds';
import { unifiedDiff } from '../unified-diff';
import { collect, manifestTarget, withoutVolatileFields } from './common';
import { DEFAULT_FIELD_MANAGER } from './apply';

type Obj = Record<string, unknown>;

export interface DiffOptions {
  fieldManager: string;
  force: boolean;
}

/** The text compared for one object: YAML with sorted keys, without volatile fields; '' when absent. */
export function diffText(obj: Obj | undefined): string {
  const o = withoutVolatileFields(obj);
  return o ? toYaml(o) : '';
}

/** `stratuslab.eu.v1alpha1.VirtualMachine.demo.web-1`, the file name kubectl diff shows. */
function diffName(kind: string, namespace: string | undefined, name: string): string {
  return [API_VERSION.replace('/', '.'), kind, namespace, name].filter((p) => p).join('.');
}

/** Prints diffs; returns 0 (none), 1 (some) or 2 (an object failed). */
export async function diffManifests(ctx: CommandContext, manifests: Manifest[], opts: DiffOptions): Promise<number> {
  let differences = false;
  let failed = false;
  for (const m of sortByKindOrder(manifests)) {
    try {
      const t = manifestTarget(m, ctx.namespace);
      const path = resourcePath(t.kind, { namespace: t.namespace, name: t.name });
      let live: Obj | undefined;
      try {
        live = await ctx.client.get<Obj>(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const merged = (
        await ctx.client.request<Obj>('PATCH', path, {
          query: { fieldManager: opts.fieldManager, force: opts.force ? 'true' : undefined, dryRun: 'All' },
          body: t.body,
          contentType: 'application/apply-patch+yaml',
        })
      ).body;
      const file = diffName(t.kind.kind, t.namespace, t.name);
      const d = unifiedDiff(diffText(live), diffText(merged), `LIVE/${file}`, `MERGED/${file}`);
      if (d) {
        differences = true;
        ctx.out(`diff -u -N LIVE/${file} MERGED/${file}\n${d}`);
      }
    } catch (err) {
      failed = true;
      ctx.errLine(formatError(err));
    }
  }
  return failed ? 2 : differences ? 1 : 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('diff')
    .summary('Show what apply would change')
    .description('Show what apply would change (server dry run). Exit 0: no differences, 1: differences, 2: error.')
    .option('-f, --filename <path>', 'file, directory or - (repeatable)', collect)
    .option('-R, --recursive', 'accepted for kubectl compatibility: directories are always read recursively')
    .option('--force-conflicts', 'diff as if apply took over fields owned by other managers')
    .option('--field-manager <name>', 'the manager that owns the applied fields', DEFAULT_FIELD_MANAGER)
    .action(async (opts: { filename?: string[]; forceConflicts?: boolean; fieldManager: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        if (!opts.filename || opts.filename.length === 0) throw new UsageError('must specify -f (a file, a directory or - for stdin)');
        let manifests: Manifest[];
        try {
          manifests = await readManifests(opts.filename, { stdin: ctx.io.stdin });
        } catch (err) {
          ctx.errLine(formatError(err));
          return 2;
        }
        return diffManifests(ctx, manifests, { fieldManager: opts.fieldManager, force: !!opts.forceConflicts });
      }),
    );
}
