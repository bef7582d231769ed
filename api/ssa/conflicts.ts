// Conflict reporting in Kubernetes' words: the 409 message kubectl prints and the Status causes.
// `Apply failed with 1 conflict: conflict with "ctl" using stratuslab.eu/v1alpha1: .spec.cpu`

import type { Conflict } from './types';

/** How Kubernetes names the owner of a field: `"m"`, `"m" using v`, `"m" with subresource "status" using v`. */
export function describeManager(c: Conflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s += ` using ${c.apiVersion ?? ''}`;
  return s;
}

/** The message of the 409 Conflict Status, formatted exactly as kube-apiserver formats it. */
export function formatConflictMessage(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1) {
    return `Apply failed with 1 conflict: conflict with ${describeManager(conflicts[0])}: ${conflicts[0].field}`;
  }
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) {
    const who = describeManager(c);
    byManager.set(who, [...(byManager.get(who) ?? []), c.field]);
  }
  const lines: string[] = [];
  for (const who of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${who}:`);
    for (const field of byManager.get(who) ?? []) lines.push(`- ${field}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}

/** `details.causes` of the 409 Status: one FieldManagerConflict per field. */
export function conflictCauses(conflicts: readonly Conflict[]): { reason: 'FieldManagerConflict'; message: string; field: string }[] {
  return conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${describeManager(c)}`, field: c.field }));
}
