// Table rows for `kubectl get`: evaluates a kind's printer columns (schemas/kinds.ts) on an object.
// Supports exactly the JSONPath forms the columns use: .a.b.c and .a.b[?(@.key=="value")].c.

import type { KindInfo, PrinterColumn } from './kinds';

export type Cell = string | number | null;

/** One step of a column path: a field, or a filter keeping the list items whose `key` equals `value`. */
export type ColumnPathStep = { field: string } | { filterKey: string; filterValue: string };

const FIELD = /^\.([A-Za-z_][A-Za-z0-9_]*)/;
const FILTER = /^\[\?\(@\.([A-Za-z_][A-Za-z0-9_]*)\s*==\s*(?:"([^"]*)"|'([^']*)')\)\]/;

const parsed = new Map<string, ColumnPathStep[]>();

/** Parses a column path; throws on any form outside the supported subset (a bug in kinds.ts). */
export function parseColumnPath(jsonPath: string): ColumnPathStep[] {
  const cached = parsed.get(jsonPath);
  if (cached) return cached;
  const steps: ColumnPathStep[] = [];
  let rest = jsonPath.trim();
  if (rest.startsWith('{') && rest.endsWith('}')) rest = rest.slice(1, -1); // kubectl's {.a.b} form
  while (rest.length > 0) {
    const f = FIELD.exec(rest);
    if (f) {
      steps.push({ field: f[1] });
      rest = rest.slice(f[0].length);
      continue;
    }
    const q = FILTER.exec(rest);
    if (q) {
      steps.push({ filterKey: q[1], filterValue: q[2] ?? q[3] });
      rest = rest.slice(q[0].length);
      continue;
    }
    throw new Error(`unsupported printer column path ${JSON.stringify(jsonPath)} at ${JSON.stringify(rest)}`);
  }
  parsed.set(jsonPath, steps);
  return steps;
}

/** The value at a column path: the first match when a filter selects several items, undefined when absent. */
export function evaluateColumnPath(obj: unknown, jsonPath: string): unknown {
  let cur: unknown = obj;
  for (const step of parseColumnPath(jsonPath)) {
    if (cur === null || cur === undefined) return undefined;
    if ('field' in step) {
      if (typeof cur !== 'object' || Array.isArray(cur)) return undefined;
      cur = (cur as Record<string, unknown>)[step.field];
    } else {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find(
        (item) => item !== null && typeof item === 'object' && String((item as Record<string, unknown>)[step.filterKey]) === step.filterValue,
      );
    }
  }
  return cur;
}

/**
 * How Kubernetes prints an age (k8s.io/apimachinery/pkg/util/duration.HumanDuration):
 * "45s", "5m30s", "42m", "3h20m", "20h", "2d5h", "45d", "2y30d", "9y".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000); // Go truncates toward zero
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24);
    const dy = days % 365;
    return dy === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function cell(column: PrinterColumn, value: unknown, now: Date): Cell {
  if (value === undefined || value === null) return null;
  switch (column.type) {
    case 'date': {
      const t = typeof value === 'string' || typeof value === 'number' ? new Date(value).getTime() : NaN;
      return Number.isNaN(t) ? null : humanDuration(now.getTime() - t);
    }
    case 'integer':
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (Number.isNaN(n)) return null;
      return column.type === 'integer' ? Math.trunc(n) : n;
    }
    case 'string':
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/**
 * The cells of a `kubectl get` row for `obj`, one per printer column of its kind (all priorities,
 * in order; the Name column is not included). Absent values are null; date columns are ages
 * relative to `now`.
 */
export function printRow(kindInfo: KindInfo, obj: unknown, now: Date = new Date()): Cell[] {
  return (kindInfo.printerColumns ?? []).map((column) => cell(column, evaluateColumnPath(obj, column.jsonPath), now));
}
