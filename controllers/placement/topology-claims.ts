// Exact required anti-affinity over a topology key other than "host" (a rack, a zone) under
// racing scheduler replicas. Host-level rules are exact because the host's allocation record is
// compare-and-set; a rack has no record of its own, so two replicas deciding from their caches
// could each put a member of a group into the same rack. So, before binding, a VM claims one
// small record per (project, term, topology key, topology value): a TopologyClaim object (in the
// VM's project) named after a hash of the term's identity and the value, created IF NOT EXISTS
// and owned by one placement attempt of the VM; the replica that loses tries another domain. One
// partition per record and compare-and-set only there, so groups never contend with each other.
// Records are released with the VM's allocation claim (deletion, rescheduling, drain, host
// removal) and the allocation audit repairs what a crash left.
//
// Scope: the records are claimed by the members of a group, i.e. for the VM's own required terms
// that select the VM itself (the usual way to spread replicas), which makes the rule exact between
// VMs holding the same term. A VM that is kept away only by another VM's term (the symmetric
// rule) is checked against the replica's cache.

import { createHash } from 'node:crypto';
import { matchesLabels } from '../../kube/selectors';
import type { ObjectKey, ObjectStore, TopologyClaimObject } from '../../store';
import type { Placement, TopologyClaimSpec } from '../../schemas/types.gen';
import { ALLOCATION_API_VERSION } from './allocation-record';
import { compileSelector, domainOf, HOST_TOPOLOGY_KEY, requiredAntiAffinity, termIdentity, type HostView } from './filters';
import { ErrorCode, hasCode } from '../../errors';

export const TOPOLOGY_CLAIM_KIND = 'TopologyClaim';

/** What a record says (schemas/topologyclaim.json): `term` is termIdentity() of the term. */
export type { TopologyClaimSpec };

/** A record a VM needs on a host: its name and what it says. */
export interface TopologyClaimRef {
  name: string;
  term: string;
  topologyKey: string;
  value: string;
}

/** A required anti-affinity term over a non-host key that selects the VM holding it. */
export interface GroupTerm {
  term: string;
  topologyKey: string;
}

export function groupTerms(placement: Pick<Placement, 'antiAffinity'> | undefined, labels: Readonly<Record<string, string>> | undefined): GroupTerm[] {
  const out: GroupTerm[] = [];
  for (const t of requiredAntiAffinity(placement)) {
    if (t.topologyKey === HOST_TOPOLOGY_KEY) continue; // exact through the host's allocation record
    const selector = compileSelector(t.labelSelector);
    if (!matchesLabels(selector, labels)) continue;
    const term = termIdentity(selector, t.topologyKey);
    if (!out.some((g) => g.term === term)) out.push({ term, topologyKey: t.topologyKey });
  }
  return out;
}

export function topologyClaimName(term: string, value: string): string {
  return `tc-${createHash('sha256').update(JSON.stringify([term, value])).digest('hex').slice(0, 40)}`;
}

/** The records a VM holding `terms` needs on `host` (a host without the key's label is in no domain of it). */
export function topologyClaimsOn(terms: readonly GroupTerm[], host: HostView): TopologyClaimRef[] {
  const out: TopologyClaimRef[] = [];
  for (const g of terms) {
    const value = domainOf(host, g.topologyKey);
    if (value !== undefined) out.push({ name: topologyClaimName(g.term, value), term: g.term, topologyKey: g.topologyKey, value });
  }
  return out;
}

export function topologyClaimKey(namespace: string, name: string): ObjectKey {
  return { kind: TOPOLOGY_CLAIM_KIND, namespace, name };
}

export function topologyClaimSpec(obj: Readonly<TopologyClaimObject>): TopologyClaimSpec {
  return obj.spec;
}

export type AcquireOutcome =
  | { ok: true }
  /** another VM of the group holds the domain */
  | { ok: false; why: 'occupied'; ref: TopologyClaimRef; owner: string }
  /** another attempt at placing the same VM holds it (a replica racing for the same VM) */
  | { ok: false; why: 'taken' };

export interface AcquireRequest {
  namespace: string;
  refs: readonly TopologyClaimRef[];
  owner: Pick<TopologyClaimSpec, 'uid' | 'vm' | 'host' | 'by' | 'at'>;
  /** an own record older than this is a leftover of an attempt that died, taken over; default 30 000 ms */
  staleMs?: number;
  now: number;
}

/** Claims every record of `refs` for one placement attempt, or none (what it got is released). */
export async function acquireTopologyClaims(store: ObjectStore, r: AcquireRequest): Promise<AcquireOutcome> {
  const got: TopologyClaimRef[] = [];
  for (const ref of r.refs) {
    const out = await acquireOne(store, r, ref);
    if (!out.ok) {
      await releaseTopologyClaims(store, r.namespace, got.map((g) => g.name), r.owner.uid, r.owner.by);
      return out;
    }
    got.push(ref);
  }
  return { ok: true };
}

async function acquireOne(store: ObjectStore, r: AcquireRequest, ref: TopologyClaimRef): Promise<AcquireOutcome> {
  const spec: TopologyClaimSpec = { term: ref.term, topologyKey: ref.topologyKey, value: ref.value, ...r.owner };
  const key = topologyClaimKey(r.namespace, ref.name);
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await store.create<TopologyClaimObject>({ apiVersion: ALLOCATION_API_VERSION, kind: TOPOLOGY_CLAIM_KIND, metadata: { namespace: r.namespace, name: ref.name }, spec: { ...spec } });
      return { ok: true };
    } catch (err) {
      if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
    }
    // Read at SERIAL: completes a compare-and-set in flight, so the owner seen is the real one.
    const cur = await store.get<TopologyClaimObject>(key, { serial: true });
    if (!cur) continue; // released meanwhile
    const held = topologyClaimSpec(cur);
    if (held.uid !== spec.uid) return { ok: false, why: 'occupied', ref, owner: held.vm };
    if (held.by === spec.by) return { ok: true };
    // The same VM: another attempt's record. A live one wins (one attempt per domain, so a
    // failed bind releases only its own records); a stale one (its attempt died) is taken over.
    if (r.now - held.at <= (r.staleMs ?? 30_000)) return { ok: false, why: 'taken' };
    try {
      await store.update({ ...cur, spec: { ...spec } }, { current: cur });
      return { ok: true };
    } catch (err) {
      if (!hasCode(err, ErrorCode.Conflict)) throw err;
    }
  }
  return { ok: false, why: 'taken' };
}

/**
 * Deletes the records `names` that placement attempt `by` of VM `uid` owns, by compare-and-set
 * on the record's resourceVersion. Returns how many it deleted.
 */
export async function releaseTopologyClaims(store: ObjectStore, namespace: string, names: readonly string[], uid: string, by: string): Promise<number> {
  let released = 0;
  for (const name of names) {
    if (await releaseIf(store, topologyClaimKey(namespace, name), (s) => s.uid === uid && s.by === by)) released++;
  }
  return released;
}

/** Deletes a record if `owned` holds for the record read at SERIAL (retried on a lost compare-and-set). */
export async function releaseIf(store: ObjectStore, key: ObjectKey, owned: (s: TopologyClaimSpec) => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const cur = await store.get<TopologyClaimObject>(key, { serial: true });
    if (!cur || !owned(topologyClaimSpec(cur))) return false;
    try {
      await store.delete(key, { preconditions: { uid: cur.metadata.uid, resourceVersion: cur.metadata.resourceVersion } });
      return true;
    } catch (err) {
      if (hasCode(err, ErrorCode.NotFound)) return false;
      if (!hasCode(err, ErrorCode.Conflict)) throw err;
    }
  }
  return false;
}
