// The addresses a scheduler replica knows to be taken, per Network: the AddressClaim informer's
// view, plus this replica's own claims ("assumed" until the feed brings them back) and the
// addresses its workers are claiming right now (so two workers of one replica never race each
// other). Only a hint for picking candidates: the create IF NOT EXISTS on the claim's own row is
// what decides.

import type { AddressClaimObject } from '../../kube/types';
import type { AddressClaimSpec } from '../../schemas/types.gen';
import { ipv4ToNumber } from '../../kube/networks';
import type { CachedObject, Informer } from '../../runtime';

/** A claim as the cache files it: where it lives and what it says. */
export interface KnownClaim {
  namespace: string;
  name: string;
  /** the claim object's metadata.uid (claims are never updated: it identifies this holding) */
  objectUid?: string;
  spec: Readonly<AddressClaimSpec>;
}

/** The read side the allocator needs (the cache, or anything shaped like it). */
export interface AddressClaimView {
  /** address (a number) of Network `namespace/network` is held or being claimed */
  isUsed(namespace: string, network: string, address: number): boolean;
  /** the claims held by VM `uid` */
  ofVm(uid: string): readonly KnownClaim[];
  /** this replica's worker is about to create a claim on the address: others skip it */
  reserve(namespace: string, network: string, address: number): void;
  unreserve(namespace: string, network: string, address: number): void;
  /** this replica wrote (or read, after losing a create) the claim */
  assume(claim: KnownClaim): void;
  /** this replica deleted the claim */
  forget(namespace: string, name: string): void;
}

interface NetworkClaims {
  /** address → the claim holding it */
  byAddress: Map<number, KnownClaim>;
  reserved: Set<number>;
}

export interface AddressClaimCacheOptions {
  /** an assumed claim the informer has not confirmed counts for this long; default 30 000 ms */
  assumeTtlMs?: number;
  now?: () => number;
}

const netKey = (namespace: string, network: string) => `${namespace}/${network}`;
const claimKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class AddressClaimCache implements AddressClaimView {
  private readonly nets = new Map<string, NetworkClaims>();
  /** claim key → claim, from the informer */
  private readonly known = new Map<string, KnownClaim>();
  /** claim key → claim and when this replica assumed it */
  private readonly assumed = new Map<string, { claim: KnownClaim; at: number }>();
  /** VM uid → claim keys (informer and assumed) */
  private readonly byUid = new Map<string, Set<string>>();
  private readonly ttl: number;
  private readonly now: () => number;
  private prunedAt = 0;

  constructor(informer: Informer<AddressClaimObject> | undefined, o: AddressClaimCacheOptions = {}) {
    this.ttl = o.assumeTtlMs ?? 30_000;
    this.now = o.now ?? Date.now;
    informer?.addHandlers({
      onAdd: (_k, c) => this.set(fromObject(c)),
      onUpdate: (_k, old, c) => {
        this.drop(fromObject(old));
        this.set(fromObject(c));
      },
      onDelete: (_k, c) => this.drop(fromObject(c)),
    });
  }

  isUsed(namespace: string, network: string, address: number): boolean {
    this.prune();
    const n = this.nets.get(netKey(namespace, network));
    return n !== undefined && (n.byAddress.has(address) || n.reserved.has(address));
  }

  /** How many addresses of the Network the cache knows to be held (claims, not reservations). */
  heldCount(namespace: string, network: string): number {
    return this.nets.get(netKey(namespace, network))?.byAddress.size ?? 0;
  }

  ofVm(uid: string): KnownClaim[] {
    const keys = this.byUid.get(uid);
    if (!keys) return [];
    const out: KnownClaim[] = [];
    for (const k of [...keys]) {
      const c = this.known.get(k) ?? this.freshAssumed(k);
      if (c && c.spec.uid === uid) out.push(c);
    }
    return out;
  }

  reserve(namespace: string, network: string, address: number): void {
    this.net(namespace, network).reserved.add(address);
  }

  unreserve(namespace: string, network: string, address: number): void {
    const n = this.nets.get(netKey(namespace, network));
    if (!n) return;
    n.reserved.delete(address);
    if (n.byAddress.size === 0 && n.reserved.size === 0) this.nets.delete(netKey(namespace, network));
  }

  assume(claim: KnownClaim): void {
    const k = claimKey(claim.namespace, claim.name);
    const known = this.known.get(k);
    if (known && known.spec.uid === claim.spec.uid && known.objectUid === claim.objectUid) return;
    const prev = this.assumed.get(k);
    if (prev) this.unfile(k, prev.claim);
    this.assumed.set(k, { claim, at: this.now() });
    this.file(k, claim);
  }

  forget(namespace: string, name: string): void {
    const k = claimKey(namespace, name);
    const a = this.assumed.get(k);
    if (a) {
      this.assumed.delete(k);
      this.unfile(k, a.claim);
    }
    const c = this.known.get(k);
    if (c) {
      this.known.delete(k);
      this.unfile(k, c);
    }
  }

  /** Drops assumed claims the informer never confirmed within the TTL (checked at most once a second). */
  private prune(): void {
    const now = this.now();
    if (now - this.prunedAt < 1000 || this.assumed.size === 0) return;
    this.prunedAt = now;
    for (const k of [...this.assumed.keys()]) this.freshAssumed(k);
  }

  private freshAssumed(k: string): KnownClaim | undefined {
    const a = this.assumed.get(k);
    if (!a) return undefined;
    if (this.now() - a.at <= this.ttl) return a.claim;
    // The informer never confirmed it (deleted before the feed was read): stop counting it.
    this.assumed.delete(k);
    this.unfile(k, a.claim);
    const known = this.known.get(k);
    if (known) this.file(k, known);
    return undefined;
  }

  private set(c: KnownClaim): void {
    const k = claimKey(c.namespace, c.name);
    const a = this.assumed.get(k);
    if (a) {
      this.assumed.delete(k);
      this.unfile(k, a.claim);
    }
    this.known.set(k, c);
    this.file(k, c);
  }

  private drop(c: KnownClaim): void {
    const k = claimKey(c.namespace, c.name);
    const cur = this.known.get(k);
    if (!cur || cur.objectUid !== c.objectUid) return;
    this.known.delete(k);
    this.unfile(k, cur);
    const a = this.assumed.get(k);
    if (a) this.file(k, a.claim);
  }

  private net(namespace: string, network: string): NetworkClaims {
    const key = netKey(namespace, network);
    let n = this.nets.get(key);
    if (!n) this.nets.set(key, (n = { byAddress: new Map(), reserved: new Set() }));
    return n;
  }

  private file(k: string, c: KnownClaim): void {
    const a = ipv4ToNumber(c.spec.address);
    if (a !== undefined) this.net(c.namespace, c.spec.network).byAddress.set(a, c);
    let s = this.byUid.get(c.spec.uid);
    if (!s) this.byUid.set(c.spec.uid, (s = new Set()));
    s.add(k);
  }

  private unfile(k: string, c: KnownClaim): void {
    const a = ipv4ToNumber(c.spec.address);
    const key = netKey(c.namespace, c.spec.network);
    const n = this.nets.get(key);
    if (n && a !== undefined && n.byAddress.get(a) === c) {
      n.byAddress.delete(a);
      if (n.byAddress.size === 0 && n.reserved.size === 0) this.nets.delete(key);
    }
    const s = this.byUid.get(c.spec.uid);
    if (s) {
      s.delete(k);
      if (s.size === 0) this.byUid.delete(c.spec.uid);
    }
  }
}

export function fromObject(c: CachedObject<AddressClaimObject>): KnownClaim {
  return { namespace: c.metadata.namespace ?? '', name: c.metadata.name, objectUid: c.metadata.uid, spec: c.spec };
}
