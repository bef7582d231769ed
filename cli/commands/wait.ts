// `stratus wait KIND/NAME --for=condition=Ready|delete|create|jsonpath='{...}'=VALUE --timeout=60s`:
// kubectl wait's semantics (get, list with a field selector, then watch from the list's resourceVersion).

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { isNotFound } from '../errors/api-error';
import { CliError } from '../errors/cli-error';
import { formatError } from '../errors/format';
import { WaitTimeoutError } from '../errors/timeout-error';
import { UsageError } from '../errors/usage-error';
import { listObjects, type Obj } from '../list';
import { namedRefs, nameOf, namespaceOf, objectRef, parseTargets, resourcePath, uidOf, type KindInfo } from '../resources';
import { evaluateWait, parseWaitFor, type WaitFor } from '../wait-condition';
import { waitForObject, withTimeout } from '../watch';
import { durationArg } from './common';

export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;

export interface WaitOptions {
  for?: string;
  /** ms; 0 checks once, negative waits a week (kubectl) */
  timeout?: number;
  selector?: string;
  all?: boolean;
}

interface WaitTarget {
  kind: KindInfo;
  namespace?: string;
  name: string;
}

/** Waits for one object; resolves when met, throws a WaitTimeoutError or an API error otherwise. */
export async function waitForOne(ctx: CommandContext, t: WaitTarget, waitFor: WaitFor, timeoutMs: number): Promise<void> {
  // --timeout=0 checks once (kubectl): the GET itself is not cut short
  const signal = withTimeout(ctx.io.signal, timeoutMs < 0 ? 7 * 24 * 3600 * 1000 : timeoutMs === 0 ? undefined : timeoutMs);
  let initial: Obj | undefined;
  try {
    initial = await ctx.client.get<Obj>(resourcePath(t.kind, { namespace: t.namespace, name: t.name }), { signal });
  } catch (err) {
    if (!isNotFound(err)) {
      if (signal.aborted) throw new WaitTimeoutError(`timed out waiting for the condition on ${t.kind.plural}/${t.name}`);
      throw err;
    }
    // kubectl: a missing object fails at once, except when waiting for it to go or come
    if (waitFor.type !== 'delete' && waitFor.type !== 'create') throw err;
  }
  if (evaluateWait(waitFor, initial)) return;
  if (timeoutMs === 0) throw new WaitTimeoutError(`timed out waiting for the condition on ${t.kind.plural}/${t.name}`);
  const uid = initial ? uidOf(initial) : undefined;
  const met = await waitForObject(ctx.client, {
    kind: t.kind,
    namespace: t.namespace,
    name: t.name,
    predicate: (obj) => evaluateWait(waitFor, obj, uid),
    signal,
    log: (l) => ctx.verbose(l),
  });
  if (!met) throw new WaitTimeoutError(`timed out waiting for the condition on ${t.kind.plural}/${t.name}`);
}

export async function waitCommand(ctx: CommandContext, args: string[], opts: WaitOptions): Promise<number> {
  const waitFor = parseWaitFor(opts.for);
  const timeoutMs = opts.timeout ?? DEFAULT_WAIT_TIMEOUT_MS;
  const targets = parseTargets(args);
  const named = targets.form === 'refs' || targets.names.length > 0;
  let list: WaitTarget[];
  if (named) {
    if (opts.selector || opts.all) throw new UsageError('selectors and the all flag cannot be used when passing resource/name arguments');
    if (ctx.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
    list = namedRefs(targets).map((r) => ({ kind: r.kind, namespace: r.kind.namespaced ? ctx.namespace : undefined, name: r.name }));
  } else {
    if (!opts.selector && !opts.all) throw new UsageError('resource(s) were provided, but no name was specified (use names, -l SELECTOR or --all)');
    list = [];
    for (const kind of (targets as { kinds: KindInfo[] }).kinds) {
      const ns = kind.namespaced && !ctx.allNamespaces ? ctx.namespace : undefined;
      const l = await listObjects(ctx.client, { kind, namespace: ns, labelSelector: opts.selector });
      for (const it of l.items) list.push({ kind, namespace: kind.namespaced ? namespaceOf(it) ?? ns : undefined, name: nameOf(it) ?? '' });
    }
    if (list.length === 0) throw new CliError('no matching resources found');
  }
  let failed = 0;
  for (const t of list) {
    try {
      await waitForOne(ctx, t, waitFor, timeoutMs);
      ctx.out(`${objectRef(t.kind, t.name)} condition met\n`);
    } catch (err) {
      failed++;
      ctx.errLine(formatError(err));
    }
  }
  return failed > 0 ? 1 : 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('wait')
    .summary('Wait for objects to reach a condition')
    .description(
      'Wait for objects to reach a condition: --for=condition=Ready[=True], --for=delete, --for=create,\n' +
        "--for=jsonpath='{.status.phase}'=Running. Prints \"<kind>/<name> condition met\"; exit 1 on timeout.",
    )
    .argument('<kind>', 'KIND/NAME, or a kind followed by names')
    .argument('[names...]', 'object names')
    .option('--for <condition>', 'the condition to wait for')
    .option('--timeout <duration>', 'how long to wait per object (default 30s; 0 checks once)', durationArg('--timeout'))
    .option('-l, --selector <selector>', 'wait for every object matching this label selector')
    .option('--all', 'wait for every object of the kind in the namespace')
    .action(async (kind: string, names: string[], opts: WaitOptions, cmd: Command) =>
      run(cmd, (ctx) => waitCommand(ctx, [kind, ...names], opts)),
    );
}
