// Status conditions (type, status, reason, message, lastTransitionTime, observedGeneration):
// setting one keeps lastTransitionTime when the status did not change, so rewriting the same
// condition is a no-op write.

import type { Condition } from '../schemas/types.gen';
import { isoSeconds } from './time';

export type { Condition };

export function getCondition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

/** Returns a new list with `next` set (replacing the condition of the same type). */
export function setCondition(conds: readonly Condition[] | undefined, next: Omit<Condition, 'lastTransitionTime'>, nowMs: number): Condition[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime = prev && prev.status === next.status && prev.lastTransitionTime ? prev.lastTransitionTime : isoSeconds(nowMs);
  const c: Condition = { ...next, lastTransitionTime };
  for (const k of Object.keys(c) as (keyof Condition)[]) if (c[k] === undefined) delete c[k];
  if (i >= 0) list[i] = c;
  else list.push(c);
  return list;
}

export function removeCondition(conds: readonly Condition[] | undefined, type: string): Condition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}
