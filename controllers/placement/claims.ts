// Claiming and releasing capacity on a host's allocation record by compare-and-set. A claim is
// checked against the record as read (at quorum first, then at SERIAL after a lost round):
// capacity and host-level anti-affinity (both ways: the symmetric rule) against every claim
// already there, so two schedulers can never both fit a VM into the same last slot.

import { matchesLabels } from '../../kube/selectors';
import type { HostAllocationObject, ObjectStore } from '../../store';
import { ALLOCATION_KIND, claimsOf, newAllocation, totalOf, type Claim, type Claims } from './allocation-record';
import { firstShortage, RESOURCE_NAMES, sameSize, sub, ZERO, type ResourceName, type Resources } from './resources';
import { compileSelector, HOST_TOPOLOGY_KEY, type HeldTerm } from './filters';
import { acquireTopologyClaims, releaseTopologyClaims, type TopologyClaimRef } from './topology-claims';
import { splitKey } from '../../runtime';
import { ErrorCode, hasCode } from '../../errors';

export type ClaimOutcome =
  | { ok: true; record: HostAllocationObject }
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
  /** called on each lost compare-and-set */
  onConflict?: () => void;
  maxAttempts?: number;
}

const allocKey = (host: string) => ({ kind: ALLOCATION_KIND, namespace: '', name: host });

const hostLevel = (terms: readonly HeldTerm[] | undefined) =>
  (terms ?? []).filter((t) => t.topologyKey === HOST_TOPOLOGY_KEY).map((t) => compileSelector(t.labelSelector));

/**
 * Host-level required anti-affinity between the claiming VM and the other VMs of its project
 * claimed on the host: its terms against their labels, and theirs against its labels (the
 * symmetric rule; claims carry their VM's terms for this).
 */
function antiAffinityConflict(claim: Claim, selfUid: string, namespace: string, claims: Readonly<Claims>): boolean {
  const mine = hostLevel(claim.antiAffinity);
  for (const [uid, c] of Object.entries(claims)) {
    if (uid === selfUid || !c.vm.startsWith(`${namespace}/`)) continue;
    if (mine.some((sel) => matchesLabels(sel, c.labels))) return true;
    if (hostLevel(c.antiAffinity).some((sel) => matchesLabels(sel, claim.labels))) return true;
  }
  return false;
}

export async function claimCapacity(store: ObjectStore, r: ClaimRequest): Promise<ClaimOutcome> {
  const attempts = r.maxAttempts ?? 4;
  const namespace = splitKey(r.claim.vm).namespace;
  for (let i = 0; i < attempts; i++) {
    // First a plain quorum read (cheap; the cache may lag by a poll interval), then at SERIAL
    // after a lost round, which also completes any Paxos round in flight.
    const cur = await store.get<HostAllocationObject>(allocKey(r.host), { serial: i > 0 });
    const claims = claimsOf(cur);
    const existing = claims[r.uid];
    if (existing) {
      if (existing.by === r.claim.by && cur) return { ok: true, record: cur };
      return { ok: false, why: 'taken' };
    }
    const short = firstShortage(r.claim, totalOf(claims), r.allocatable);
    if (short) return { ok: false, why: 'nofit', detail: `insufficient ${short}` };
    if (antiAffinityConflict(r.claim, r.uid, namespace, claims)) return { ok: false, why: 'nofit', detail: 'anti-affinity conflict' };
    try {
      if (!cur) return { ok: true, record: await store.create<HostAllocationObject>(newAllocation(r.host, { [r.uid]: r.claim })) };
      const next = structuredClone(cur);
      next.spec.claims = { ...claims, [r.uid]: r.claim };
      return { ok: true, record: await store.update(next) };
    } catch (err) {
      if (!hasCode(err, ErrorCode.Conflict) && !hasCode(err, ErrorCode.AlreadyExists)) throw err;
      r.onConflict?.();
    }
  }
  return { ok: false, why: 'conflict' };
}

export type PlacementClaimOutcome =
  | ClaimOutcome
  /** another member of the VM's anti-affinity group holds the domain of `ref` */
  | { ok: false; why: 'occupied'; ref: TopologyClaimRef; owner: string };

/**
 * Claims what placing a VM on a host takes: first the topology records of its anti-affinity
 * group (`refs`, named in the claim: that is where racing members of a group are told apart,
 * and losing there costs less than a capacity claim), then the capacity on the host's record;
 * the records are released again when the capacity claim fails.
 */
export async function claimPlacement(
  store: ObjectStore, r: ClaimRequest & { refs: readonly TopologyClaimRef[]; staleMs?: number },
): Promise<PlacementClaimOutcome> {
  const { claim, uid, refs } = r;
  const namespace = splitKey(claim.vm).namespace;
  if (refs.length > 0) {
    const owner = { uid, vm: claim.vm, host: r.host, by: claim.by, at: claim.at };
    const got = await acquireTopologyClaims(store, { namespace, refs, owner, now: claim.at, staleMs: r.staleMs });
    if (!got.ok) return got;
  }
  let out: ClaimOutcome | undefined;
  try {
    out = await claimCapacity(store, r);
    return out;
  } finally {
    if (!out?.ok && refs.length > 0) await releaseTopologyClaims(store, namespace, refs.map((x) => x.name), uid, claim.by);
  }
}

export type ResizeOutcome =
  | { ok: true; record: HostAllocationObject; from: Resources }
  /** the VM has no claim on this host (it moved, or a crash lost the claim: the audit restores it) */
  | { ok: false; why: 'missing' }
  /** a resource that grows does not fit next to the other claims */
  | { ok: false; why: 'nofit'; from: Resources; short: ResourceName; free: number };

/**
 * Sets the size of VM `uid`'s claim on `host` to `request` by compare-and-set on the record:
 * resources that shrink always fit (even on a host whose capacity shrank), resources that grow
 * must fit next to every other claim, so a resize can never over-allocate the host. On `nofit`
 * the claim keeps its previous size.
 */
export async function resizeClaim(store: ObjectStore, host: string, uid: string, request: Resources, allocatable: Resources): Promise<ResizeOutcome> {
  // (a cast, so the compiler does not narrow `out` to its initial value: the callback sets it)
  let out = { ok: false, why: 'missing' } as ResizeOutcome;
  try {
    const record = await store.guaranteedUpdate<HostAllocationObject>(allocKey(host), (cur) => {
      const claims = claimsOf(cur);
      const c = claims[uid];
      if (!c) {
        out = { ok: false, why: 'missing' };
        return undefined;
      }
      const from: Resources = { cpu: c.cpu, memory: c.memory, storage: c.storage };
      if (sameSize(from, request)) {
        out = { ok: true, record: cur, from };
        return undefined;
      }
      const others = sub(totalOf(claims), from);
      const growth = { ...ZERO };
      for (const r of RESOURCE_NAMES) if (request[r] > from[r]) growth[r] = request[r];
      const short = firstShortage(growth, others, allocatable);
      if (short) {
        out = { ok: false, why: 'nofit', from, short, free: Math.max(0, allocatable[short] - others[short]) };
        return undefined;
      }
      cur.spec.claims = { ...claims, [uid]: { ...c, ...request } };
      out = { ok: true, record: cur, from };
      return cur;
    });
    if (out.ok) out = { ...out, record };
    return out;
  } catch (err) {
    if (hasCode(err, ErrorCode.NotFound)) return { ok: false, why: 'missing' };
    throw err;
  }
}

/**
 * Removes the claim of VM `uid` from a host's record (only if attempt `by` made it, when given).
 * Returns the record written and the claim removed, or undefined when there was nothing to remove.
 */
export async function releaseClaim(store: ObjectStore, host: string, uid: string, by?: string): Promise<{ record: HostAllocationObject; claim: Claim } | undefined> {
  let removed: Claim | undefined;
  try {
    const record = await store.guaranteedUpdate<HostAllocationObject>(allocKey(host), (cur) => {
      removed = undefined;
      const claims = claimsOf(cur);
      const c = claims[uid];
      if (!c || (by !== undefined && c.by !== by)) return undefined;
      const next = { ...claims };
      delete next[uid];
      cur.spec.claims = next;
      removed = c;
      return cur;
    });
    return removed ? { record, claim: removed } : undefined;
  } catch (err) {
    if (hasCode(err, ErrorCode.NotFound)) return undefined;
    throw err;
  }
}

/**
 * Releases what a VM holds because it was placed on `host`: its claim on the host's allocation
 * record (only attempt `by`'s, when given: a failed bind) and the topology claims listed in it,
 * if the same attempt still owns them (a later placement of the VM in the same rack has its own).
 * The record written goes to `cache`, so this replica sees the capacity free at once. True when
 * a claim was released.
 */
export async function releasePlacement(
  store: ObjectStore, host: string, uid: string, o: { by?: string; cache?: { assume(obj: HostAllocationObject): void } } = {},
): Promise<boolean> {
  const out = await releaseClaim(store, host, uid, o.by);
  if (!out) return false;
  o.cache?.assume(out.record);
  const names = out.claim.topologyClaims ?? [];
  if (names.length > 0) await releaseTopologyClaims(store, splitKey(out.claim.vm).namespace, names, uid, out.claim.by);
  return true;
}
