// Claiming and releasing capacity on a host's allocation record by compare-and-set. A claim is
// checked against the record as read (at quorum first, then at SERIAL after a lost round):
// capacity and host-level anti-affinity against every claim already there, so two schedulers can
// never both fit a VM into the same last slot.

import { labelSelectorFromObject, matchesLabels } from '../../store/selectors';
import type { ObjectStore, StoredObject } from '../../store';
import type { AffinityTerm } from '../../schemas/types.gen';
import { ALLOCATION_KIND, claimsOf, newAllocation, totalOf, type Claim } from './allocation-record';
import { firstShortage, type Resources } from './resources';
import { HOST_TOPOLOGY_KEY } from './filters';

export type ClaimOutcome =
  | { ok: true; record: StoredObject }
  /** another claimant holds a claim for this VM on this host */
  | { ok: false; why: 'taken' }
  /** the fresh record leaves no room (or a host-level anti-affinity conflict) */
  | { ok: false; why: 'nofit'; detail: string }
  /** lost every compare-and-set round */
  | { ok: false; why: 'conflict' };

export interface ClaimRequest {
  host: string;
  uid: string;
  claim: Claim;
  allocatable: Resources;
  antiAffinity?: AffinityTerm[];
  /** called on each lost compare-and-set */
  onConflict?: () => void;
  maxAttempts?: number;
}

const allocKey = (host: string) => ({ kind: ALLOCATION_KIND, namespace: '', name: host });

function antiAffinityConflict(terms: AffinityTerm[] | undefined, namespace: string, claims: Record<string, Claim>, selfUid: string): boolean {
  for (const t of terms ?? []) {
    if ((t.topologyKey ?? HOST_TOPOLOGY_KEY) !== HOST_TOPOLOGY_KEY || t.required === false) continue;
    const sel = labelSelectorFromObject((t.labelSelector ?? {}) as Parameters<typeof labelSelectorFromObject>[0]);
    for (const [uid, c] of Object.entries(claims)) {
      if (uid !== selfUid && c.vm.startsWith(`${namespace}/`) && matchesLabels(sel, c.labels ?? {})) return true;
    }
  }
  return false;
}

export async function claimCapacity(store: ObjectStore, r: ClaimRequest): Promise<ClaimOutcome> {
  const attempts = r.maxAttempts ?? 4;
  const namespace = r.claim.vm.slice(0, r.claim.vm.indexOf('/'));
  for (let i = 0; i < attempts; i++) {
    // First a plain quorum read (cheap; the cache may lag by a poll interval), then at SERIAL
    // after a lost round, which also completes any Paxos round in flight.
    const cur = await store.get(allocKey(r.host), { serial: i > 0 });
    const claims = claimsOf(cur);
    const existing = claims[r.uid];
    if (existing) {
      if (existing.by === r.claim.by && cur) return { ok: true, record: cur };
      return { ok: false, why: 'taken' };
    }
    const short = firstShortage(r.claim, totalOf(claims), r.allocatable);
    if (short) return { ok: false, why: 'nofit', detail: `insufficient ${short}` };
    if (antiAffinityConflict(r.antiAffinity, namespace, claims, r.uid)) return { ok: false, why: 'nofit', detail: 'anti-affinity conflict' };
    try {
      if (!cur) return { ok: true, record: await store.create(newAllocation(r.host, { [r.uid]: r.claim })) };
      const next = structuredClone(cur) as StoredObject;
      (next.spec as { claims: Record<string, Claim> }).claims = { ...claims, [r.uid]: r.claim };
      return { ok: true, record: await store.update(next) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'CONFLICT' && code !== 'ALREADY_EXISTS') throw err;
      r.onConflict?.();
    }
  }
  return { ok: false, why: 'conflict' };
}

/**
 * Removes the claim of VM `uid` from a host's record (only if `by` made it, when given).
 * Returns the record written, or undefined when there was nothing to remove.
 */
export async function releaseClaim(store: ObjectStore, host: string, uid: string, by?: string): Promise<StoredObject | undefined> {
  let changed = false;
  try {
    const out = await store.guaranteedUpdate(allocKey(host), (cur) => {
      changed = false;
      const claims = claimsOf(cur);
      const c = claims[uid];
      if (!c || (by !== undefined && c.by !== by)) return undefined;
      const next = { ...claims };
      delete next[uid];
      (cur.spec as { claims: Record<string, Claim> }).claims = next;
      changed = true;
      return cur;
    });
    return changed ? out : undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_FOUND') return undefined;
    throw err;
  }
}
