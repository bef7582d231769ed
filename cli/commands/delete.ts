// `stratus delete KIND NAME... | KIND/NAME... | -f FILE | KIND -l SEL | KIND --all`: deletes, then
// (by default, like kubectl) waits until the objects are gone, finalizers included.

import { Command, Option } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { isApiError, isNotFound } from '../errors/api-error';
import { WaitTimeoutError } from '../errors/timeout-error';
import { formatError } from '../errors/format';
import { UsageError } from '../errors/usage-error';
import { listObjects, type Obj } from '../list';
import { readManifests, sortByKindOrder } from '../manifests';
import { namedRefs, nameOf, namespaceOf, objectRef, parseTargets, qualifiedSingular, resourcePath, uidOf, type KindInfo } from '../resources';
import { waitForObject, withTimeout } from '../watch';
import { collect, durationArg, manifestTarget } from './common';

export const DEFAULT_DELETE_TIMEOUT_MS = 60_000;

export interface DeleteOptions {
  filename?: string[];
  selector?: string;
  all?: boolean;
  wait?: boolean;
  /** ms */
  timeout?: number;
  ignoreNotFound?: boolean;
  dryRun?: string;
}

interface DeleteTarget {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

async function collectTargets(ctx: CommandContext, args: string[], opts: DeleteOptions): Promise<DeleteTarget[]> {
  if (opts.filename && opts.filename.length > 0) {
    if (args.length > 0) {
      throw new UsageError('when paths or stdin are given as input, you may not specify resource arguments as well');
    }
    const manifests = sortByKindOrder(await readManifests(opts.filename, { stdin: ctx.io.stdin }), true);
    return manifests.map((m) => {
      const t = manifestTarget(m, ctx.namespace);
      return { kind: t.kind, namespace: t.namespace, name: t.name };
    });
  }
  const targets = parseTargets(args);
  const named = targets.form === 'refs' || targets.names.length > 0;
  if (named) {
    if (opts.selector || opts.all) {
      throw new UsageError('selectors and the all flag cannot be used when passing resource/name arguments');
    }
    if (ctx.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
    return namedRefs(targets).map((r) => ({ kind: r.kind, namespace: r.kind.namespaced ? ctx.namespace : undefined, name: r.name }));
  }
  if (!opts.selector && !opts.all) {
    throw new UsageError('resource(s) were provided, but no name was specified (use names, -l SELECTOR or --all)');
  }
  const out: DeleteTarget[] = [];
  for (const kind of (targets as { kinds: KindInfo[] }).kinds) {
    const ns = kind.namespaced && !ctx.allNamespaces ? ctx.namespace : undefined;
    const list = await listObjects(ctx.client, { kind, namespace: ns, labelSelector: opts.selector });
    for (const it of list.items) {
      out.push({ kind, namespace: kind.namespaced ? namespaceOf(it) ?? ns : undefined, name: nameOf(it) ?? '' });
    }
  }
  if (out.length === 0) ctx.errLine('No resources found');
  return out;
}

export async function deleteCommand(ctx: CommandContext, args: string[], opts: DeleteOptions): Promise<number> {
  const output = ctx.output(['name']);
  const dryRun = opts.dryRun === 'server';
  const targets = await collectTargets(ctx, args, opts);
  let failed = 0;
  const deleted: Array<DeleteTarget & { uid?: string }> = [];
  for (const t of targets) {
    const path = resourcePath(t.kind, { namespace: t.namespace, name: t.name });
    try {
      const res = await ctx.client.request<Obj>('DELETE', path, {
        body: { propagationPolicy: 'Background' },
        query: { dryRun: dryRun ? 'All' : undefined },
      });
      const body = res.body;
      const uid = body && body.kind !== 'Status' ? uidOf(body) : undefined;
      deleted.push({ ...t, uid });
      if (output.type === 'name') ctx.out(`${objectRef(t.kind, t.name)}\n`);
      else ctx.out(`${qualifiedSingular(t.kind)} "${t.name}" deleted${dryRun ? ' (server dry run)' : ''}\n`);
    } catch (err) {
      if (isNotFound(err) && opts.ignoreNotFound) continue;
      failed++;
      ctx.errLine(formatError(err));
    }
  }
  if (opts.wait !== false && !dryRun && deleted.length > 0) {
    const signal = withTimeout(ctx.io.signal, opts.timeout ?? DEFAULT_DELETE_TIMEOUT_MS);
    for (const d of deleted) {
      try {
        const gone = await waitForObject(ctx.client, {
          kind: d.kind,
          namespace: d.namespace,
          name: d.name,
          // gone, or re-created under the same name (another uid)
          predicate: (obj) => !obj || (d.uid !== undefined && uidOf(obj) !== undefined && uidOf(obj) !== d.uid),
          signal,
          log: (l) => ctx.verbose(l),
        });
        if (!gone) throw new WaitTimeoutError(`timed out waiting for the condition on ${d.kind.plural}/${d.name}`);
      } catch (err) {
        failed++;
        ctx.errLine(formatError(err));
        if (!isApiError(err) && signal.aborted) break;
      }
    }
  }
  return failed > 0 ? 1 : 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('delete')
    .summary('Delete objects and wait until they are gone')
    .description(
      'Delete objects by KIND NAME..., KIND/NAME..., -f FILE|DIR|-, or KIND with -l/--all; then wait until they are gone\n' +
        '(--wait=false to return at once).',
    )
    .argument('[kind]', 'kind, or KIND/NAME')
    .argument('[names...]', 'object names')
    .option('-f, --filename <path>', 'file, directory or - with the objects to delete (repeatable)', collect)
    .option('-R, --recursive', 'accepted for kubectl compatibility: directories are always read recursively')
    .option('-l, --selector <selector>', 'delete the objects matching this label selector')
    .option('--all', 'delete every object of the kind in the namespace')
    .option('--wait', 'wait until the objects are gone (the default; --wait=false or --no-wait to return at once)')
    .option('--no-wait', 'return without waiting')
    .option('--timeout <duration>', 'how long --wait waits (default 60s)', durationArg('--timeout'))
    .option('--ignore-not-found', 'succeed when an object does not exist')
    .addOption(new Option('--dry-run [strategy]', 'server: ask the server without deleting').choices(['none', 'server']).preset('server'))
    .action(async (kind: string | undefined, names: string[], opts: DeleteOptions, cmd: Command) =>
      run(cmd, (ctx) => deleteCommand(ctx, kind === undefined ? [] : [kind, ...names], opts)),
    );
}
