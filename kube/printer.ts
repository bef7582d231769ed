// Table rows for `kubectl get`: a kind's printer columns (schemas/kinds.ts) evaluated on an object
// with the one JSONPath evaluator (kube/jsonpath.ts), and Kubernetes' way of printing an age.

import type { KindInfo, PrinterColumn } from '../schemas/kinds';
import { evaluateJsonPath, parseJsonPath, type Segment } from './jsonpath';

export type Cell = string | number | null;

const parsed = new Map<string, Segment[]>();

function columnPath(jsonPath: string): Segment[] {
  let segs = parsed.get(jsonPath);
  if (!segs) {
    let expr = jsonPath.trim();
    if (expr.startsWith('{') && expr.endsWith('}')) expr = expr.slice(1, -1); // kubectl's {.a.b} form
    segs = parseJsonPath(expr);
    parsed.set(jsonPath, segs);
  }
  return segs;
}

/**
 * The value at a column path, as kubectl prints a column: a path with `[*]` gives every match
 * joined with "," (".status.addresses[*].ipAddress" → "10.0.0.2,10.1.0.3"); any other path the
 * first match (of a filter that selects several items, say); undefined when absent.
 * @throws JsonPathError for a path that does not parse (a bug in kinds.ts)
 */
export function evaluateColumnPath(obj: unknown, jsonPath: string): unknown {
  const values = evaluateJsonPath(columnPath(jsonPath), obj).filter((v) => v !== undefined && v !== null);
  if (values.length > 1 && jsonPath.includes('[*]')) {
    return values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  }
  return values[0];
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
