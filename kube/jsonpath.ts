// JSONPath as kubectl writes it, the one evaluator of the CLI (-o jsonpath, wait --for) and of printer
// columns (kube/printer.ts): `.a.b`, `['k']`, `[0]`, `[-1]`, `[1:3]`, `[*]`, `..name`, filters
// `[?(@.type=="Ready")]`, and kubectl's templates `{.a}{"\n"}{range .items[*]}...{end}`. Hand-written because
// no maintained JavaScript library speaks kubectl's dialect (templates, range/end, `=~`).

import { ErrorCode } from '../errors';

/** A JSONPath expression or template that does not parse; the message says where. */
export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
  readonly code = ErrorCode.InvalidJsonPath;
}

export type Segment =
  | { t: 'field'; names: string[] }
  | { t: 'wildcard' }
  | { t: 'recursive'; name: string | null }
  | { t: 'index'; indices: number[] }
  | { t: 'slice'; start?: number; end?: number; step?: number }
  | { t: 'filter'; path: Segment[]; op?: string; value?: unknown };

export type TemplatePart =
  | { type: 'text'; text: string }
  | { type: 'path'; path: Segment[] }
  | { type: 'range'; path: Segment[]; body: TemplatePart[] };

function fail(expr: string, why: string): never {
  throw new JsonPathError(`error parsing jsonpath ${expr}: ${why}`);
}

const NAME_CHAR = /[A-Za-z0-9_\-$/]/;

/** Parses a path such as `.status.conditions[?(@.type=="Ready")].status` (leading `$` and `.` optional). */
export function parseJsonPath(expr: string): Segment[] {
  const s = expr.trim();
  let i = 0;
  const segs: Segment[] = [];
  if (s[i] === '$') i++;
  const readName = (): string => {
    const start = i;
    while (i < s.length && NAME_CHAR.test(s[i])) i++;
    return s.slice(start, i);
  };
  // kubectl accepts `metadata.name` as well as `.metadata.name`
  if (i < s.length && NAME_CHAR.test(s[i])) segs.push({ t: 'field', names: [readName()] });
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      if (s[i + 1] === '.') {
        i += 2;
        if (s[i] === '*') {
          i++;
          segs.push({ t: 'recursive', name: null });
        } else if (s[i] === '[') {
          segs.push({ t: 'recursive', name: null });
        } else {
          const n = readName();
          if (!n) fail(expr, `expected a name after ".." at ${i}`);
          segs.push({ t: 'recursive', name: n });
        }
        continue;
      }
      i++;
      if (s[i] === '*') {
        i++;
        segs.push({ t: 'wildcard' });
        continue;
      }
      if (i >= s.length || s[i] === '[') continue; // `.` alone or `.[0]`
      const n = readName();
      if (!n) fail(expr, `unexpected "${s[i]}" at ${i}`);
      segs.push({ t: 'field', names: [n] });
      continue;
    }
    if (c === '[') {
      const close = findBracketEnd(s, i, expr);
      segs.push(parseBracket(s.slice(i + 1, close).trim(), expr));
      i = close + 1;
      continue;
    }
    fail(expr, `unexpected "${c}" at ${i}`);
  }
  return segs;
}

function findBracketEnd(s: string, open: number, expr: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let j = open; j < s.length; j++) {
    const ch = s[j];
    if (quote) {
      if (ch === '\\') j++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') {
      depth--;
      if (depth === 0) {
        if (ch !== ']') fail(expr, 'unbalanced brackets');
        return j;
      }
    }
  }
  return fail(expr, 'unclosed "["');
}

function parseLiteral(raw: string, expr: string): unknown {
  const v = raw.trim();
  if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) {
    return v.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'null') return null;
  if (v !== '' && !Number.isNaN(Number(v))) return Number(v);
  return fail(expr, `bad literal ${raw}`);
}

function parseBracket(inner: string, expr: string): Segment {
  if (inner === '*') return { t: 'wildcard' };
  if (inner.startsWith('?')) {
    let f = inner.slice(1).trim();
    if (!f.startsWith('(') || !f.endsWith(')')) fail(expr, `bad filter [${inner}]`);
    f = f.slice(1, -1).trim();
    const m = /^@((?:\.[A-Za-z0-9_\-$/]+|\[[^\]]*\])*)\s*(==|!=|<=|>=|<|>|=~)?\s*(.*)$/s.exec(f);
    if (!m) fail(expr, `bad filter [${inner}]`);
    const path = parseJsonPath(m[1] || '');
    if (!m[2]) {
      if (m[3].trim() !== '') fail(expr, `bad filter [${inner}]`);
      return { t: 'filter', path };
    }
    return { t: 'filter', path, op: m[2], value: parseLiteral(m[3], expr) };
  }
  if (/^['"]/.test(inner)) {
    const names = inner.split(',').map((p) => {
      const v = parseLiteral(p, expr);
      if (typeof v !== 'string') fail(expr, `bad key [${inner}]`);
      return v as string;
    });
    return { t: 'field', names };
  }
  if (inner.includes(':')) {
    const parts = inner.split(':').map((p) => p.trim());
    if (parts.length > 3) fail(expr, `bad slice [${inner}]`);
    const num = (p: string | undefined): number | undefined => {
      if (p === undefined || p === '') return undefined;
      const n = Number(p);
      if (!Number.isInteger(n)) fail(expr, `bad slice [${inner}]`);
      return n;
    };
    return { t: 'slice', start: num(parts[0]), end: num(parts[1]), step: num(parts[2]) };
  }
  const indices = inner.split(',').map((p) => {
    const n = Number(p.trim());
    if (p.trim() === '' || !Number.isInteger(n)) fail(expr, `bad index [${inner}]`);
    return n;
  });
  return { t: 'index', indices };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObject(v)) return Object.values(v);
  return [];
}

function descendants(v: unknown, out: unknown[] = []): unknown[] {
  out.push(v);
  for (const c of children(v)) descendants(c, out);
  return out;
}

function compare(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return !compare(a, '==', b);
    case '<':
      return typeof a === typeof b && (a as number) < (b as number);
    case '<=':
      return typeof a === typeof b && (a as number) <= (b as number);
    case '>':
      return typeof a === typeof b && (a as number) > (b as number);
    case '>=':
      return typeof a === typeof b && (a as number) >= (b as number);
    case '=~':
      return typeof a === 'string' && typeof b === 'string' && new RegExp(b).test(a);
    default:
      return false;
  }
}

function applySegment(values: unknown[], seg: Segment): unknown[] {
  const out: unknown[] = [];
  for (const v of values) {
    switch (seg.t) {
      case 'field':
        if (isObject(v)) for (const n of seg.names) if (n in v && v[n] !== undefined) out.push(v[n]);
        break;
      case 'wildcard':
        out.push(...children(v));
        break;
      case 'recursive':
        for (const d of descendants(v)) {
          if (seg.name === null) out.push(...children(d));
          else if (isObject(d) && seg.name in d && d[seg.name] !== undefined) out.push(d[seg.name]);
        }
        break;
      case 'index':
        if (Array.isArray(v)) {
          for (const i of seg.indices) {
            const j = i < 0 ? v.length + i : i;
            if (j >= 0 && j < v.length) out.push(v[j]);
          }
        }
        break;
      case 'slice':
        if (Array.isArray(v)) {
          const len = v.length;
          const norm = (x: number | undefined, d: number): number => (x === undefined ? d : x < 0 ? Math.max(0, len + x) : Math.min(len, x));
          const step = seg.step ?? 1;
          if (step <= 0) break;
          for (let j = norm(seg.start, 0); j < norm(seg.end, len); j += step) out.push(v[j]);
        }
        break;
      case 'filter':
        for (const item of children(v)) {
          const found = evaluateSegments(seg.path, item);
          if (seg.op === undefined ? found.length > 0 : found.some((f) => compare(f, seg.op as string, seg.value))) out.push(item);
        }
        break;
    }
  }
  return out;
}

function evaluateSegments(segs: Segment[], data: unknown): unknown[] {
  let values: unknown[] = [data];
  for (const seg of segs) values = applySegment(values, seg);
  return values;
}

/** Every value the path designates in `data` (none when a field is missing). */
export function evaluateJsonPath(path: Segment[] | string, data: unknown): unknown[] {
  return evaluateSegments(typeof path === 'string' ? parseJsonPath(path) : path, data);
}

function unquoteTemplateLiteral(inner: string, template: string): string {
  const v = inner.trim();
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      fail(template, `bad string literal ${v}`);
    }
  }
  return v.slice(1, -1);
}

/** Parses a kubectl template: text with `{path}`, `{"literal"}`, `{range path}...{end}`. */
export function parseJsonPathTemplate(template: string): TemplatePart[] {
  let t = template;
  // shells leave the quotes when users write -o jsonpath="'{...}'"
  if (t.length >= 2 && ((t.startsWith("'") && t.endsWith("'")) || (t.startsWith('"') && t.endsWith('"')))) t = t.slice(1, -1);
  const root: TemplatePart[] = [];
  const stack: TemplatePart[][] = [root];
  let i = 0;
  while (i < t.length) {
    const open = t.indexOf('{', i);
    if (open < 0) {
      stack[stack.length - 1].push({ type: 'text', text: t.slice(i) });
      break;
    }
    if (open > i) stack[stack.length - 1].push({ type: 'text', text: t.slice(i, open) });
    const close = findBraceEnd(t, open, template);
    const inner = t.slice(open + 1, close).trim();
    i = close + 1;
    const cur = stack[stack.length - 1];
    if (inner.startsWith('"') || inner.startsWith("'")) {
      cur.push({ type: 'text', text: unquoteTemplateLiteral(inner, template) });
    } else if (/^range\s/.test(inner)) {
      const part: TemplatePart = { type: 'range', path: parseJsonPath(inner.slice(6)), body: [] };
      cur.push(part);
      stack.push(part.body);
    } else if (inner === 'end') {
      if (stack.length === 1) fail(template, 'unexpected {end}');
      stack.pop();
    } else {
      cur.push({ type: 'path', path: parseJsonPath(inner) });
    }
  }
  if (stack.length > 1) fail(template, 'missing {end}');
  return root;
}

function findBraceEnd(s: string, open: number, template: string): number {
  let quote: string | null = null;
  for (let j = open + 1; j < s.length; j++) {
    const ch = s[j];
    if (quote) {
      if (ch === '\\') j++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '}') return j;
  }
  return fail(template, 'unclosed "{"');
}

/** Renders a parsed template against data (values joined by a space, objects as JSON). */
export function renderTemplate(parts: TemplatePart[], data: unknown): string {
  return parts
    .map((p) => {
      if (p.type === 'text') return p.text;
      const values = evaluateJsonPath(p.path, data);
      if (p.type === 'range') return values.map((v) => renderTemplate(p.body, v)).join('');
      return values.map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v))).join(' ');
    })
    .join('');
}
