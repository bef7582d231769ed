// `stratus apply -f FILE|DIR|-`: server-side apply of manifests in dependency order, printing
// created / configured / unchanged per object and going on after a failed object.

import { Command, Option } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { isNotFound } from '../errors/api-error';
import { CliError } from '../errors/cli-error';
import { formatError } from '../errors/format';
import { UsageError } from '../errors/usage-error';
import { readManifests, sortByKindOrder, type Manifest } from '../manifests';
import { renderObjects, type OutputFormat } from '../output';
import { objectRef, resourcePath, resourceVersionOf } from '../resources';
import { jsonEqual } from '../../kube/equal';
import { collect, manifestTarget, withoutVolatileFields } from './common';

export const DEFAULT_FIELD_MANAGER = 'stratus';

export interface ApplyOptions {
  fieldManager: string;
  force: boolean;
  dryRun: boolean;
  output: OutputFormat;
}

export type ApplyVerdict = 'created' | 'configured' | 'unchanged';

type Obj = Record<string, unknown>;

/**
 * Decides what an apply did from the object before (undefined: did not exist) and after: equal
 * resourceVersions mean unchanged; so does a different resourceVersion with the same spec and
 * metadata (someone else wrote status meanwhile). A dry run compares content only.
 */
export function applyVerdict(before: Obj | undefined, after: Obj, httpStatus: number, dryRun: boolean): ApplyVerdict {
  if (!before || httpStatus === 201) return 'created';
  if (!dryRun && resourceVersionOf(before) === resourceVersionOf(after)) return 'unchanged';
  const a = withoutVolatileFields(before, { dropStatus: true });
  const b = withoutVolatileFields(after, { dropStatus: true });
  return jsonEqual(a, b) ? 'unchanged' : 'configured';
}

/** Applies manifests one by one (in kind order); returns the exit code (1 if any object failed). */
export async function applyManifests(ctx: CommandContext, manifests: Manifest[], opts: ApplyOptions): Promise<number> {
  let failed = 0;
  const results: Obj[] = [];
  for (const m of sortByKindOrder(manifests)) {
    try {
      const t = manifestTarget(m, ctx.namespace);
      const path = resourcePath(t.kind, { namespace: t.namespace, name: t.name });
      let before: Obj | undefined;
      try {
        before = await ctx.client.get<Obj>(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const res = await ctx.client.request<Obj>('PATCH', path, {
        query: {
          fieldManager: opts.fieldManager,
          force: opts.force ? 'true' : undefined,
          dryRun: opts.dryRun ? 'All' : undefined,
        },
        body: t.body,
        contentType: 'application/apply-patch+yaml',
      });
      const after = res.body ?? {};
      const verdict = applyVerdict(before, after, res.status, opts.dryRun);
      if (opts.output.type === 'table') {
        ctx.out(`${objectRef(t.kind, t.name)} ${verdict}${opts.dryRun ? ' (server dry run)' : ''}\n`);
      } else if (opts.output.type === 'name') {
        ctx.out(`${objectRef(t.kind, t.name)}\n`);
      } else {
        results.push(after);
      }
    } catch (err) {
      failed++;
      ctx.errLine(formatError(err));
    }
  }
  if (results.length > 0) ctx.out(renderObjects(results, opts.output));
  return failed > 0 ? 1 : 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('apply')
    .summary('Create or update objects from manifests (server-side apply)')
    .description(
      'Create or update objects from manifests (server-side apply). Directories are read recursively; "-" reads stdin.\n' +
        'Objects are applied in dependency order: Project, Host, Image, Volume, VirtualMachine.',
    )
    .option('-f, --filename <path>', 'file, directory or - (repeatable)', collect)
    .option('-R, --recursive', 'accepted for kubectl compatibility: directories are always read recursively')
    .option('--force-conflicts', 'take over fields owned by other managers')
    .option('--field-manager <name>', 'the manager that owns the applied fields', DEFAULT_FIELD_MANAGER)
    .addOption(new Option('--dry-run [strategy]', 'server: let the server validate without persisting').choices(['none', 'server']).preset('server'))
    .action(async (opts: { filename?: string[]; forceConflicts?: boolean; fieldManager: string; dryRun?: string }, cmd: Command) =>
      run(cmd, async (ctx) => {
        if (!opts.filename || opts.filename.length === 0) throw new UsageError('must specify -f (a file, a directory or - for stdin)');
        const output = ctx.output(['json', 'yaml', 'name']);
        const manifests = await readManifests(opts.filename, { stdin: ctx.io.stdin });
        if (manifests.length === 0) throw new CliError('no objects passed to apply');
        return applyManifests(ctx, manifests, {
          fieldManager: opts.fieldManager,
          force: !!opts.forceConflicts,
          dryRun: opts.dryRun === 'server',
          output,
        });
      }),
    );
}
