// Printing for people and scripts: kubectl-style tables (from the server's meta.k8s.io Table),
// YAML and JSON documents with sorted keys, `-o name`, `-o jsonpath=`, and ages.

import { humanDuration } from '../kube/printer';
import { stringify as stringifyYaml } from 'yaml';
import { UsageError } from './errors/usage-error';
import { parseJsonPathTemplate, renderTemplate, type TemplatePart } from './jsonpath';
import type { Table, TableColumnDefinition, TableRow } from '../kube/wire';

/** A meta.k8s.io/v1 Table column (kube/wire.ts). */
export type TableColumn = TableColumnDefinition;

export type { TableRow };

/** A meta.k8s.io/v1 Table as the server returns it for `Accept: application/json;as=Table;...` (kube/wire.ts). */
export type MetaTable = Table;

export const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

export function isMetaTable(v: unknown): v is MetaTable {
  return !!v && typeof v === 'object' && (v as MetaTable).kind === 'Table' && Array.isArray((v as MetaTable).rows);
}

/** Formats rows kubectl-style: columns padded and separated by `padding` spaces, no trailing blanks. */
export function formatTable(headers: string[] | undefined, rows: string[][], padding = 3, minWidths: number[] = []): string {
  const all = headers ? [headers, ...rows] : rows;
  if (all.length === 0) return '';
  const n = Math.max(...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < n; c++) {
    widths.push(Math.max(minWidths[c] ?? 0, ...all.map((r) => (r[c] ?? '').length)));
  }
  return all
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : (cell ?? '').padEnd(widths[c] + padding)))
        .join('')
        .replace(/\s+$/, ''),
    )
    .map((l) => `${l}\n`)
    .join('');
}

/** Column widths of a formatted table (to keep watch rows aligned with the header). */
export function columnWidths(headers: string[] | undefined, rows: string[][]): number[] {
  const all = headers ? [headers, ...rows] : rows;
  const n = all.length === 0 ? 0 : Math.max(...all.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < n; c++) widths.push(Math.max(...all.map((r) => (r[c] ?? '').length)));
  return widths;
}

/** A table cell as kubectl prints it. */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '<none>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** kubectl's HumanDuration (45s, 5m10s, 3h, 2d5h, 400d, 3y20d): one implementation, in kube/printer. */
export { humanDuration };

/** Age of a timestamp (`<unknown>` when missing or unparsable). */
export function formatAge(timestamp: unknown, now: number = Date.now()): string {
  if (typeof timestamp !== 'string') return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

export interface TableLayoutOptions {
  /** show priority > 0 columns (`-o wide`) */
  wide?: boolean;
  /** prepend a NAMESPACE column from row.object.metadata.namespace (`-A`) */
  withNamespace?: boolean;
  /** prefix names with `virtualmachine.stratuslab.eu/` (several kinds in one `get`) */
  namePrefix?: string;
}

export interface TableLayout {
  headers: string[];
  /** indexes into the server's columns, in print order */
  columns: number[];
  withNamespace: boolean;
  namePrefix?: string;
}

function nameColumnIndex(cols: TableColumn[]): number {
  const byFormat = cols.findIndex((c) => c.format === 'name');
  if (byFormat >= 0) return byFormat;
  return cols.findIndex((c) => c.name.toLowerCase() === 'name');
}

/** Chooses and orders the columns of a server Table: Name first, priority-1 columns only when wide. */
export function tableLayout(columns: TableColumn[], opts: TableLayoutOptions = {}): TableLayout {
  const nameIdx = nameColumnIndex(columns);
  const order: number[] = [];
  if (nameIdx >= 0) order.push(nameIdx);
  columns.forEach((c, i) => {
    if (i === nameIdx) return;
    if ((c.priority ?? 0) > 0 && !opts.wide) return;
    order.push(i);
  });
  const headers = order.map((i) => columns[i].name.toUpperCase());
  if (opts.withNamespace) headers.unshift('NAMESPACE');
  return { headers, columns: order, withNamespace: !!opts.withNamespace, namePrefix: opts.namePrefix };
}

/** The printed cells of a server Table row under a layout. */
export function tableRowCells(row: TableRow, layout: TableLayout, nameIdx: number): string[] {
  const cells = layout.columns.map((i) => {
    const v = formatCell(row.cells?.[i]);
    return i === nameIdx && layout.namePrefix ? `${layout.namePrefix}/${v}` : v;
  });
  if (layout.withNamespace) {
    const md = (row.object?.metadata ?? {}) as Record<string, unknown>;
    cells.unshift(typeof md.namespace === 'string' ? md.namespace : '');
  }
  return cells;
}

/** Prints a whole server Table (header + rows) kubectl-style. */
export function renderServerTable(table: MetaTable, opts: TableLayoutOptions = {}): string {
  const layout = tableLayout(table.columnDefinitions, opts);
  const nameIdx = nameColumnIndex(table.columnDefinitions);
  const rows = table.rows.map((r) => tableRowCells(r, layout, nameIdx));
  return formatTable(layout.headers, rows);
}

export { nameColumnIndex };

/**
 * A table built on the client from plain objects, for a server that does not answer with a
 * Table: NAME and AGE (kubectl does the same).
 */
export function objectsToTable(objects: Array<Record<string, unknown>>, now: number = Date.now()): MetaTable {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name' },
      { name: 'Age', type: 'date' },
    ],
    rows: objects.map((o) => {
      const md = (o.metadata ?? {}) as Record<string, unknown>;
      return { cells: [md.name ?? '', formatAge(md.creationTimestamp, now)], object: o };
    }),
  };
}

/** Deep copy with object keys sorted (kubectl's JSON and YAML of unstructured objects). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function toJson(v: unknown): string {
  return `${JSON.stringify(sortKeys(v), null, 4)}\n`;
}

export function toYaml(v: unknown): string {
  return stringifyYaml(sortKeys(v), { indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false });
}

/** The `v1` List kubectl prints for `-o json|yaml` of several objects. */
export function asList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

export const OUTPUT_FORMATS = ['json', 'yaml', 'name', 'wide', 'jsonpath'];

export type OutputFormat =
  | { type: 'table'; wide: boolean }
  | { type: 'json' }
  | { type: 'yaml' }
  | { type: 'name' }
  | { type: 'jsonpath'; template: TemplatePart[] };

/** Parses `-o`; `allowed` restricts it per command. */
export function parseOutputFormat(o: string | undefined, allowed: string[] = OUTPUT_FORMATS): OutputFormat {
  const fail = (): never => {
    throw new UsageError(`unable to match a printer suitable for the output format "${o}", allowed formats are: ${allowed.join(',')}`);
  };
  if (o === undefined || o === '') return { type: 'table', wide: false };
  const eq = o.indexOf('=');
  const head = eq >= 0 ? o.slice(0, eq) : o;
  if (!allowed.includes(head)) fail();
  switch (head) {
    case 'wide':
      return { type: 'table', wide: true };
    case 'json':
      return { type: 'json' };
    case 'yaml':
      return { type: 'yaml' };
    case 'name':
      return { type: 'name' };
    case 'jsonpath': {
      if (eq < 0) throw new UsageError('template format specified but no template given');
      return { type: 'jsonpath', template: parseJsonPathTemplate(o.slice(eq + 1)) };
    }
  }
  return fail();
}

/** Renders objects in a document format; several objects (or `forceList`) become a `List`. */
export function renderObjects(
  objects: Array<Record<string, unknown>>,
  format: OutputFormat,
  opts: { forceList?: boolean; nameOf?: (o: Record<string, unknown>) => string } = {},
): string {
  const single = objects.length === 1 && !opts.forceList;
  const data = single ? objects[0] : asList(objects);
  switch (format.type) {
    case 'json':
      return toJson(data);
    case 'yaml':
      return toYaml(data);
    case 'name':
      return objects.map((o) => `${opts.nameOf ? opts.nameOf(o) : String((o.metadata as Record<string, unknown>)?.name)}\n`).join('');
    case 'jsonpath':
      return renderTemplate(format.template, data);
    default:
      return toYaml(data);
  }
}
