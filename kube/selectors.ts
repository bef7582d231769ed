// Kubernetes label and field selectors: parsing and matching.

import { BadRequestError } from '../errors';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export interface LabelSelector {
  requirements: Requirement[];
}

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

function checkKey(key: string, what: string): string {
  if (!KEY_RE.test(key) || key.length > 317) throw new BadRequestError(`invalid ${what} "${key}": not a valid label key`);
  return key;
}

function checkValue(v: string, what: string): string {
  if (!VALUE_RE.test(v) || v.length > 63) throw new BadRequestError(`invalid ${what}: "${v}" is not a valid label value`);
  return v;
}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`. An empty string selects everything. */
export function parseLabelSelector(s: string | undefined): LabelSelector {
  const requirements: Requirement[] = [];
  if (!s) return { requirements };
  for (const term of splitTerms(s)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const values = m[3].split(',').map((v) => checkValue(v.trim(), 'labelSelector'));
      requirements.push({ key: checkKey(m[1], 'labelSelector'), op: m[2] as 'in' | 'notin', values });
    } else if ((m = term.match(/^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      const key = checkKey(m[1], 'labelSelector');
      const value = checkValue(m[3], 'labelSelector');
      requirements.push({ key, op: m[2] === '!=' ? 'notin' : 'in', values: [value] });
    } else if ((m = term.match(/^!\s*(\S+)$/))) {
      requirements.push({ key: checkKey(m[1], 'labelSelector'), op: '!exists' });
    } else if ((m = term.match(/^(\S+)$/))) {
      requirements.push({ key: checkKey(m[1], 'labelSelector'), op: 'exists' });
    } else {
      throw new BadRequestError(`invalid labelSelector: unable to parse requirement "${term}"`);
    }
  }
  return { requirements };
}

/** Builds a selector from a Kubernetes LabelSelector object (matchLabels + matchExpressions). */
export function labelSelectorFromObject(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): LabelSelector {
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) requirements.push({ key, op: 'in', values: [value] });
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === 'in' || op === 'notin') requirements.push({ key: e.key, op, values: e.values ?? [] });
    else if (op === 'exists') requirements.push({ key: e.key, op: 'exists' });
    else if (op === 'doesnotexist') requirements.push({ key: e.key, op: '!exists' });
  }
  return { requirements };
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'in':
        if (!has || !r.values.includes(l[r.key])) return false;
        break;
      case 'notin':
        if (has && r.values.includes(l[r.key])) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** The fields a fieldSelector may name for a kind, and how to read each from an object. */
export type FieldSet<T> = Record<string, (o: T) => string>;

type SelectableObject = { metadata: { name: string; namespace?: string }; status?: Record<string, unknown> };

/** Fields a fieldSelector may name on Stratus kinds, and how to read them from an object. */
const FIELDS: FieldSet<SelectableObject> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace ?? '',
  'status.phase': (o) => String(o.status?.phase ?? ''),
  'status.host': (o) => String(o.status?.host ?? ''),
};

/** Parses `a=b,c!=d` against the fields `fields` supports (the Stratus kinds' by default). */
export function parseFieldSelector(s: string | undefined, fields: Readonly<Record<string, unknown>> = FIELDS): FieldRequirement[] {
  if (!s) return [];
  return splitTerms(s).map((term) => {
    const m = term.match(/^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new BadRequestError(`invalid fieldSelector: unable to parse requirement "${term}"`);
    if (!Object.prototype.hasOwnProperty.call(fields, m[1])) {
      throw new BadRequestError(`field label not supported: ${m[1]} (supported: ${Object.keys(fields).join(', ')})`);
    }
    return { field: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3] };
  });
}

export function matchesFields<T = SelectableObject>(reqs: FieldRequirement[], obj: T, fields: FieldSet<T> = FIELDS as FieldSet<T>): boolean {
  for (const r of reqs) {
    const v = fields[r.field](obj);
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

/** The value of an equality requirement on a field, when the selector pins it to one value. */
export function pinnedField(reqs: FieldRequirement[], field: string): string | undefined {
  return reqs.find((r) => r.field === field && r.op === '=')?.value;
}
