// What `wait --for=...` waits for, parsed and evaluated as pure functions (kubectl's wait semantics).

import { UsageError } from './errors/usage-error';
import { evaluateJsonPath, parseJsonPath, type Segment } from './jsonpath';

export type WaitFor =
  | { type: 'delete' }
  | { type: 'create' }
  /** `condition=Ready[=True]`: status compared case-insensitively */
  | { type: 'condition'; condition: string; status: string }
  /** `jsonpath='{.status.phase}'[=Running]`: without a value, the field merely has to exist */
  | { type: 'jsonpath'; expression: string; path: Segment[]; value?: string };

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && ((t.startsWith("'") && t.endsWith("'")) || (t.startsWith('"') && t.endsWith('"')))) return t.slice(1, -1);
  return t;
}

/** Parses the value of `--for`. */
export function parseWaitFor(spec: string | undefined): WaitFor {
  if (!spec) throw new UsageError('--for must be specified: delete, create, condition=NAME[=VALUE] or jsonpath=EXPR[=VALUE]');
  const s = spec.trim();
  const lower = s.toLowerCase();
  if (lower === 'delete') return { type: 'delete' };
  if (lower === 'create') return { type: 'create' };
  if (lower.startsWith('condition=')) {
    const rest = s.slice('condition='.length);
    const eq = rest.indexOf('=');
    const condition = (eq < 0 ? rest : rest.slice(0, eq)).trim();
    const status = eq < 0 ? 'True' : rest.slice(eq + 1).trim();
    if (!condition) throw new UsageError(`invalid --for ${spec}: a condition name is required`);
    if (!status) throw new UsageError(`invalid --for ${spec}: a condition value is required after "="`);
    return { type: 'condition', condition, status };
  }
  if (lower.startsWith('jsonpath=')) {
    let rest = s.slice('jsonpath='.length).trim();
    let expression: string;
    let value: string | undefined;
    // the expression may come quoted: jsonpath='{.status.phase}'=Running
    if (rest.startsWith("'") || rest.startsWith('"')) {
      const q = rest[0];
      const end = rest.indexOf(q, 1);
      if (end < 0) throw new UsageError(`invalid --for ${spec}: unbalanced quote`);
      expression = rest.slice(1, end);
      rest = rest.slice(end + 1);
    } else if (rest.startsWith('{')) {
      const end = rest.indexOf('}');
      if (end < 0) throw new UsageError(`invalid --for ${spec}: unclosed "{"`);
      expression = rest.slice(0, end + 1);
      rest = rest.slice(end + 1);
    } else {
      // .status.phase=Running: the first "=" not part of an operator
      const m = /^(.*?[^=!<>~])=(?!=)(.*)$/s.exec(rest);
      expression = m ? m[1] : rest;
      rest = m ? `=${m[2]}` : '';
    }
    if (rest !== '') {
      if (!rest.startsWith('=')) throw new UsageError(`invalid --for ${spec}: expected "=" after the expression`);
      value = unquote(rest.slice(1));
      if (value === '') throw new UsageError(`invalid --for ${spec}: jsonpath wait has to have a value after the equal sign`);
    }
    let expr = expression.trim();
    if (expr.startsWith('{') && expr.endsWith('}')) expr = expr.slice(1, -1);
    if (expr.trim() === '') throw new UsageError(`invalid --for ${spec}: empty jsonpath expression`);
    return { type: 'jsonpath', expression: expr, path: parseJsonPath(expr), value };
  }
  throw new UsageError(`unrecognized condition: "${spec}" (use delete, create, condition=NAME[=VALUE] or jsonpath=EXPR[=VALUE])`);
}

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function asInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

/**
 * kubectl's condition check: the first condition whose type matches (case-insensitive) decides;
 * it is met when its status matches (case-insensitive) and its observedGeneration (else
 * status.observedGeneration) is not lower than metadata.generation.
 */
export function isConditionMet(obj: unknown, condition: string, status = 'True'): boolean {
  const o = asObj(obj);
  if (!o) return false;
  const st = asObj(o.status);
  const conditions = st && Array.isArray(st.conditions) ? st.conditions : [];
  for (const c of conditions) {
    const cond = asObj(c);
    if (!cond || typeof cond.type !== 'string' || cond.type.toLowerCase() !== condition.toLowerCase()) continue;
    if (typeof cond.status !== 'string') continue;
    const generation = asInt(asObj(o.metadata)?.generation);
    if (generation !== undefined) {
      const observed = asInt(cond.observedGeneration) ?? asInt(st?.observedGeneration);
      if (observed !== undefined && observed < generation) return false;
    }
    return cond.status.toLowerCase() === status.toLowerCase();
  }
  return false;
}

function scalarString(v: unknown): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function isJsonPathMet(obj: unknown, path: Segment[], value?: string): boolean {
  if (!obj) return false;
  const found = evaluateJsonPath(path, obj);
  if (value === undefined) return found.length > 0;
  return found.some((f) => scalarString(f) === value);
}

/**
 * Whether the wait is over, given the object as last seen (`undefined`: it does not exist).
 * For `delete`, `initialUid` makes a re-created object (same name, new uid) count as deleted.
 */
export function evaluateWait(waitFor: WaitFor, obj: unknown, initialUid?: string): boolean {
  switch (waitFor.type) {
    case 'delete': {
      if (obj === undefined || obj === null) return true;
      const uid = asObj(asObj(obj)?.metadata)?.uid;
      return initialUid !== undefined && typeof uid === 'string' && uid !== initialUid;
    }
    case 'create':
      return obj !== undefined && obj !== null;
    case 'condition':
      return isConditionMet(obj, waitFor.condition, waitFor.status);
    case 'jsonpath':
      return isJsonPathMet(obj, waitFor.path, waitFor.value);
  }
}
