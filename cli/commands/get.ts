// `stratus get KIND [NAME...]`: the server's Tables printed kubectl-style, or objects as
// JSON/YAML/names/jsonpath; `-w` follows changes until interrupted or --timeout.

import { Command } from 'commander';
import type { CommandContext, CommandRunner } from '../context';
import { isNotFound } from '../errors/api-error';
import { formatError } from '../errors/format';
import { UsageError } from '../errors/usage-error';
import { renderTemplate } from '../jsonpath';
import { getTable, listObjects, listTable, withTypeMeta, type CollectionTarget, type Obj } from '../list';
import {
  TABLE_ACCEPT,
  columnWidths,
  formatAge,
  formatTable,
  isMetaTable,
  nameColumnIndex,
  renderObjects,
  renderServerTable,
  tableLayout,
  tableRowCells,
  toJson,
  toYaml,
  type MetaTable,
  type OutputFormat,
  type TableColumn,
  type TableLayout,
  type TableRow,
} from '../output';
import {
  nameOf,
  namedRefs,
  namespaceOf,
  objectRef,
  parseTargets,
  qualifiedSingular,
  resourcePath,
  resourceVersionOf,
  type KindInfo,
} from '../resources';
import { isExpired, watchFrom, withTimeout } from '../watch';
import { durationArg } from './common';
import { API_VERSION } from '../../schemas/kinds';

export interface GetOptions {
  selector?: string;
  fieldSelector?: string;
  watch?: boolean;
  watchOnly?: boolean;
  outputWatchEvents?: boolean;
  /** ms; ends -w quietly */
  timeout?: number;
  ignoreNotFound?: boolean;
}

/** kubectl's message for an empty result, printed on stderr. */
export function noResourcesMessage(kinds: KindInfo[], namespace: string | undefined): string {
  if (namespace !== undefined && kinds.some((k) => k.namespaced)) return `No resources found in ${namespace} namespace.`;
  return 'No resources found';
}

function combineSelectors(a: string | undefined, b: string | undefined): string | undefined {
  return [a, b].filter((s) => s).join(',') || undefined;
}

export async function getCommand(ctx: CommandContext, args: string[], opts: GetOptions): Promise<number> {
  const format = ctx.output();
  const targets = parseTargets(args);
  const named = targets.form === 'refs' || targets.names.length > 0;
  const refs = named ? namedRefs(targets) : undefined;
  if (refs && (opts.selector || opts.fieldSelector)) {
    throw new UsageError('selectors cannot be used when passing resource names');
  }
  if (refs && ctx.allNamespaces && refs.some((r) => r.kind.namespaced)) {
    throw new UsageError('a resource cannot be retrieved by name across all namespaces');
  }
  const kinds = refs ? [...new Set(refs.map((r) => r.kind))] : (targets as { kinds: KindInfo[] }).kinds;
  if (opts.watch || opts.watchOnly) {
    if (kinds.length !== 1 || (refs && refs.length > 1)) {
      throw new UsageError('watch is only supported on individual resources and resource collections of one kind');
    }
    return watchGet(ctx, kinds[0], refs?.[0]?.name, format, opts);
  }
  const allNs = ctx.allNamespaces;
  const ns = allNs ? undefined : ctx.namespace;
  const errors: unknown[] = [];

  if (format.type === 'table') {
    const sections: string[] = [];
    for (const kind of kinds) {
      let table: MetaTable | undefined;
      if (refs) {
        for (const r of refs.filter((x) => x.kind === kind)) {
          try {
            const t = await getTable(ctx.client, kind, ns, r.name);
            table = table ? { ...table, rows: [...table.rows, ...t.rows] } : t;
          } catch (err) {
            if (!(isNotFound(err) && opts.ignoreNotFound)) errors.push(err);
          }
        }
      } else {
        table = await listTable(ctx.client, { kind, namespace: ns, labelSelector: opts.selector, fieldSelector: opts.fieldSelector });
      }
      if (!table || table.rows.length === 0) continue;
      sections.push(
        renderServerTable(table, {
          wide: format.wide,
          withNamespace: allNs && kind.namespaced,
          namePrefix: kinds.length > 1 ? qualifiedSingular(kind) : undefined,
        }),
      );
    }
    ctx.out(sections.join('\n'));
    for (const e of errors) ctx.errLine(formatError(e));
    if (sections.length === 0 && !refs) ctx.errLine(noResourcesMessage(kinds, ns));
    return errors.length > 0 ? 1 : 0;
  }

  const found: Array<{ kind: KindInfo; obj: Obj }> = [];
  for (const kind of kinds) {
    if (refs) {
      for (const r of refs.filter((x) => x.kind === kind)) {
        try {
          const obj = await ctx.client.get<Obj>(resourcePath(kind, { namespace: ns, name: r.name }));
          found.push({ kind, obj: withTypeMeta(kind, obj, API_VERSION) });
        } catch (err) {
          if (!(isNotFound(err) && opts.ignoreNotFound)) errors.push(err);
        }
      }
    } else {
      const list = await listObjects(ctx.client, { kind, namespace: ns, labelSelector: opts.selector, fieldSelector: opts.fieldSelector });
      for (const obj of list.items) found.push({ kind, obj: withTypeMeta(kind, obj, API_VERSION) });
    }
  }
  const kindOf = new Map(found.map((f) => [f.obj, f.kind]));
  if (format.type === 'name') {
    if (found.length === 0 && !refs) ctx.errLine(noResourcesMessage(kinds, ns));
  }
  // an empty list still prints (an empty List); names that all failed print only their errors
  if (found.length > 0 || (!refs && format.type !== 'name')) {
    const single = !!refs && refs.length === 1 && found.length === 1;
    ctx.out(
      renderObjects(
        found.map((f) => f.obj),
        format,
        { forceList: !single, nameOf: (o) => objectRef(kindOf.get(o) as KindInfo, nameOf(o) ?? '') },
      ),
    );
  }
  for (const e of errors) ctx.errLine(formatError(e));
  return errors.length > 0 ? 1 : 0;
}

function lowerCamel(s: string): string {
  const words = s.split(/[\s_-]+/).filter((w) => w);
  return words.map((w, i) => (i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

/** A row for a plain object under a server's columns, for a server whose watch sends objects, not Tables. */
export function rowFromObject(obj: Obj, columns: TableColumn[], now: number): TableRow {
  const md = (obj.metadata ?? {}) as Obj;
  const cells = columns.map((c) => {
    const lname = c.name.toLowerCase();
    if (c.format === 'name' || lname === 'name') return md.name ?? '';
    if (lname === 'age' || c.type === 'date') return formatAge(md.creationTimestamp, now);
    const key = lowerCamel(c.name);
    for (const section of [obj.status, obj.spec]) {
      if (section && typeof section === 'object' && key in (section as Obj)) return (section as Obj)[key];
    }
    return '';
  });
  return { cells, object: obj };
}

async function watchGet(ctx: CommandContext, kind: KindInfo, name: string | undefined, format: OutputFormat, opts: GetOptions): Promise<number> {
  const allNs = ctx.allNamespaces && kind.namespaced;
  const ns = allNs ? undefined : ctx.namespace;
  const target: CollectionTarget = {
    kind,
    namespace: ns,
    labelSelector: opts.selector,
    fieldSelector: combineSelectors(opts.fieldSelector, name ? `metadata.name=${name}` : undefined),
  };
  const signal = withTimeout(ctx.io.signal, opts.timeout);
  const lastPrinted = new Map<string, string>();
  const key = (o: unknown): string => `${namespaceOf(o) ?? ''}/${nameOf(o) ?? ''}`;
  /** false when this version of the object was already printed (a watch may replay the list's state) */
  const fresh = (o: unknown, type: string): boolean => {
    const rv = resourceVersionOf(o);
    const k = key(o);
    if (rv && type !== 'DELETED' && lastPrinted.get(k) === rv) return false;
    if (rv) lastPrinted.set(k, rv);
    return true;
  };
  const table = format.type === 'table';
  const wide = format.type === 'table' && format.wide;

  // table mode state
  let columns: TableColumn[] = [];
  let layout: TableLayout | undefined;
  let nameIdx = -1;
  let widths: number[] | undefined;
  const setColumns = (cols: TableColumn[]): void => {
    if (layout || cols.length === 0) return;
    columns = cols;
    layout = tableLayout(cols, { wide, withNamespace: allNs });
    nameIdx = nameColumnIndex(cols);
  };
  const printRows = (rows: TableRow[], type: string): void => {
    if (!layout) return;
    const lines = rows.filter((r) => fresh(r.object, type)).map((r) => tableRowCells(r, layout as TableLayout, nameIdx));
    if (lines.length === 0) return;
    if (opts.outputWatchEvents) for (const l of lines) l.unshift(type);
    if (!widths) {
      const headers = opts.outputWatchEvents ? ['EVENT', ...layout.headers] : layout.headers;
      widths = columnWidths(headers, lines);
      ctx.out(formatTable(headers, lines, 3, widths));
    } else {
      ctx.out(formatTable(undefined, lines, 3, widths));
    }
  };
  let docs = 0;
  const printObject = (o: Obj, type: string): void => {
    if (!fresh(o, type)) return;
    const obj = withTypeMeta(kind, o, API_VERSION);
    const data = opts.outputWatchEvents ? { type, object: obj } : obj;
    switch (format.type) {
      case 'json':
        ctx.out(toJson(data));
        break;
      case 'yaml':
        ctx.out(`${docs > 0 ? '---\n' : ''}${toYaml(data)}`);
        break;
      case 'name':
        ctx.out(`${objectRef(kind, nameOf(o) ?? '')}\n`);
        break;
      case 'jsonpath':
        ctx.out(renderTemplate(format.template, data));
        break;
      default:
        break;
    }
    docs++;
  };

  const list = async (print: boolean): Promise<string | undefined> => {
    if (table) {
      const t = await listTable(ctx.client, target, signal);
      setColumns(t.columnDefinitions ?? []);
      if (print) printRows(t.rows, 'ADDED');
      else for (const r of t.rows) fresh(r.object, 'ADDED');
      return t.metadata?.resourceVersion;
    }
    const l = await listObjects(ctx.client, target, signal);
    for (const o of l.items) {
      if (print) printObject(o, 'ADDED');
      else fresh(o, 'ADDED');
    }
    return l.resourceVersion;
  };

  let rv: string | undefined;
  try {
    rv = await list(!opts.watchOnly);
  } catch (err) {
    if (signal.aborted) return 0;
    throw err;
  }
  while (!signal.aborted) {
    try {
      for await (const ev of watchFrom(ctx.client, target, rv, { signal, accept: table ? TABLE_ACCEPT : undefined })) {
        if (ev.type === 'BOOKMARK') continue;
        if (table) {
          if (isMetaTable(ev.object)) {
            setColumns(ev.object.columnDefinitions ?? []);
            printRows(ev.object.rows, ev.type);
          } else {
            if (!layout) setColumns([{ name: 'Name', type: 'string', format: 'name' }, { name: 'Age', type: 'date' }]);
            printRows([rowFromObject(ev.object, columns, ctx.io.now())], ev.type);
          }
        } else {
          printObject(ev.object, ev.type);
        }
      }
      break;
    } catch (err) {
      if (signal.aborted) break;
      if (!isExpired(err)) throw err;
      ctx.verbose('watch expired; listing again');
      rv = await list(true);
    }
  }
  return 0;
}

export function register(program: Command, run: CommandRunner): void {
  program
    .command('get')
    .summary('Display one or many objects')
    .description(
      'Display objects: KIND [NAME...], KIND/NAME..., or KIND1,KIND2. Tables come from the server;\n' +
        '-o wide|yaml|json|name|jsonpath=TEMPLATE. -w follows changes until interrupted or --timeout.',
    )
    .argument('<kind>', 'kind (virtualmachines, vm, ...), KIND/NAME, or KIND1,KIND2 (all: VMs, volumes, images)')
    .argument('[names...]', 'object names')
    .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
    .option('--field-selector <selector>', 'field selector, e.g. metadata.name=web-1')
    .option('-w, --watch', 'after listing, watch for changes')
    .option('--watch-only', 'watch for changes without listing first')
    .option('--output-watch-events', 'with -w, print the event type of each change')
    .option('--timeout <duration>', 'with -w, stop watching after this long (e.g. 30s, 5m)', durationArg('--timeout'))
    .option('--ignore-not-found', 'do not fail on a named object that does not exist')
    .action(async (kind: string, names: string[], opts: GetOptions, cmd: Command) =>
      run(cmd, (ctx) => getCommand(ctx, [kind, ...names], opts)),
    );
}
