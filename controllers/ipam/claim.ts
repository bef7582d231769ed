// Address management with no allocator: each address of a Network is one AddressClaim object
// (its own partition, named <network>.<address>), created IF NOT EXISTS for one VM interface. The
// replica that loses a create reads the row at SERIAL (which completes a compare-and-set in
// flight, so the holder seen is the real one) and tries another address; candidates start at a
// random offset, so racing replicas rarely pick the same one. A VM keeps its claims for its life
// (a reschedule reuses them); they are deleted by compare-and-set when the VM is gone
// (address-release.ts), and the audit removes what a crash left (address-claim-audit.ts).

import type { AddressClaimObject, NetworkObject, ObjectKey, ObjectStore, VirtualMachineObject } from '../../store';
import type { AddressClaimSpec, AddressStatus } from '../../schemas/types.gen';
import {
  addressClaimName, countUsable, effectiveGateway, macFor, networkInterfaces, networkSpecProblems, numberToIpv4, parseCidr,
  rangesContain, usableRanges,
} from '../../kube/networks';
import type { CachedObject } from '../../runtime';
import { ErrorCode, hasCode } from '../../errors';
import { fromObject, type AddressClaimView, type KnownClaim } from './cache';

export const ADDRESS_CLAIM_KIND = 'AddressClaim';
const API_VERSION = 'stratuslab.eu/v1alpha1';

/** The Scheduled=False reasons of a VM whose addresses cannot be claimed. */
export type IpamReason = 'NetworkNotFound' | 'NetworkNotReady' | 'InvalidAddress' | 'AddressInUse' | 'NoAddressAvailable';

/** Finds a Network by project and name (an informer's view). */
export type NetworkLookup = (namespace: string, name: string) => CachedObject<NetworkObject> | undefined;

/** A VM interface on a Network that exists and can hand out addresses. */
export interface ResolvedInterface {
  /** index in spec.networks (the MAC derives from it) */
  index: number;
  name: string;
  /** the Network as the VM names it (spec.networks[].network) */
  spelled: string;
  network: CachedObject<NetworkObject>;
  ipAddress?: string;
}

export type ResolveOutcome =
  | { ok: true; interfaces: ResolvedInterface[] }
  | { ok: false; reason: IpamReason; message: string };

type VmView = Readonly<Pick<VirtualMachineObject, 'metadata' | 'spec' | 'status'>>;

export const networkKeyOf = (n: Pick<NetworkObject, 'metadata'>) => `${n.metadata.namespace ?? ''}/${n.metadata.name}`;

/**
 * Pure: the Networks of a VM's interfaces, or the first reason one cannot be used (missing, not
 * shared with the VM's project, being deleted, an invalid spec, a fixed address it cannot hand out).
 */
export function resolveNetworks(vm: VmView, lookup: NetworkLookup): ResolveOutcome {
  const vmNs = vm.metadata.namespace ?? '';
  const out: ResolvedInterface[] = [];
  for (const i of networkInterfaces(vmNs, vm.spec)) {
    const spelled = vm.spec.networks![i.index].network!;
    const where = `interface ${i.name}: network ${spelled}`;
    const network = lookup(i.ref.namespace, i.ref.name);
    if (!network) return { ok: false, reason: 'NetworkNotFound', message: `${where} not found` };
    if (i.ref.namespace !== vmNs && network.spec.shared !== true) {
      return { ok: false, reason: 'NetworkNotFound', message: `${where} is not shared with project ${vmNs}` };
    }
    if (network.metadata.deletionTimestamp) return { ok: false, reason: 'NetworkNotReady', message: `${where} is being deleted` };
    const problems = networkSpecProblems(network.spec);
    if (problems.length > 0) {
      return { ok: false, reason: 'NetworkNotReady', message: `${where} is not ready: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}` };
    }
    if (i.ipAddress !== undefined && !rangesContain(usableRanges(network.spec), i.ipAddress)) {
      return {
        ok: false, reason: 'InvalidAddress',
        message: `${where}: ${i.ipAddress} is not an address it hands out (${network.spec.cidr} without its network, broadcast, gateway and reserved addresses)`,
      };
    }
    out.push({ index: i.index, name: i.name, spelled, network, ...(i.ipAddress ? { ipAddress: i.ipAddress } : {}) });
  }
  return { ok: true, interfaces: out };
}

export interface ClaimAddressesRequest {
  vm: VmView;
  /** resolveNetworks(vm)'s interfaces when the caller has them (else resolved here with `networks`) */
  interfaces?: readonly ResolvedInterface[];
  networks: NetworkLookup;
  claims: AddressClaimView;
  /** who claims: "<identity>/<attempt>" */
  by: string;
  now: number;
  rng: () => number;
  /** creates lost to other claimants for one interface before giving up for now; default 64 */
  maxCollisions?: number;
  /** called on each create lost to another claimant */
  onCollision?: () => void;
}

export type ClaimAddressesOutcome =
  /** `created`: the claims this call wrote (a failed bind releases them) */
  | { ok: true; addresses: AddressStatus[]; created: KnownClaim[] }
  | { ok: false; reason: IpamReason; message: string }
  /** lost too many races in a row: retry later */
  | { ok: false; reason: 'Conflict'; message: string };

type TryOutcome = { ok: true; claim: KnownClaim; created: boolean } | { ok: false; holder: string } | { ok: false; conflict: true };

/**
 * Claims an address on every Network interface of `vm` (reusing what the VM already holds) and
 * returns the VM's status.addresses, or why not. Claims made before a later interface failed
 * are released again, so a VM waiting for one network does not hold addresses of another.
 */
export async function claimAddresses(store: ObjectStore, r: ClaimAddressesRequest): Promise<ClaimAddressesOutcome> {
  let interfaces = r.interfaces;
  if (!interfaces) {
    const res = resolveNetworks(r.vm, r.networks);
    if (!res.ok) return res;
    interfaces = res.interfaces;
  }
  const uid = r.vm.metadata.uid!;
  const vmKey = `${r.vm.metadata.namespace ?? ''}/${r.vm.metadata.name}`;
  const addresses: AddressStatus[] = [];
  const created: KnownClaim[] = [];
  const fail = async (reason: IpamReason | 'Conflict', message: string): Promise<ClaimAddressesOutcome> => {
    for (const c of created) await releaseAddressClaim(store, c, r.claims);
    return { ok: false, reason, message };
  };
  for (const iface of interfaces) {
    const net = iface.network;
    const ns = net.metadata.namespace ?? '';
    const netName = net.metadata.name;
    const netUid = net.metadata.uid!;
    const where = `interface ${iface.name}: network ${iface.spelled}`;
    const mineOnIface = (c: KnownClaim) => c.spec.uid === uid && c.namespace === ns && c.spec.network === netName
      && c.spec.networkUID === netUid && c.spec.interface === iface.name;
    const spec = (address: string): AddressClaimSpec => ({
      network: netName, networkUID: netUid, address, uid, vm: vmKey, interface: iface.name, by: r.by, at: r.now,
    });
    const tryClaim = async (address: string): Promise<TryOutcome> => {
      const name = addressClaimName(netName, address);
      const key: ObjectKey = { kind: ADDRESS_CLAIM_KIND, namespace: ns, name };
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const obj = await store.create<AddressClaimObject>({ apiVersion: API_VERSION, kind: ADDRESS_CLAIM_KIND, metadata: { namespace: ns, name }, spec: spec(address) });
          const claim = fromObject(obj);
          r.claims.assume(claim);
          return { ok: true, claim, created: true };
        } catch (err) {
          if (!hasCode(err, ErrorCode.AlreadyExists)) throw err;
        }
        // Read at SERIAL: completes a compare-and-set in flight, so the holder seen is the real one.
        const cur = await store.get<AddressClaimObject>(key, { serial: true });
        if (!cur) continue; // released meanwhile
        const held = fromObject(cur);
        r.claims.assume(held);
        if (mineOnIface(held)) return { ok: true, claim: held, created: false };
        return {
          ok: false,
          holder: held.spec.networkUID !== netUid ? `a claim of an earlier network named ${netName} (the audit frees it)`
            : held.spec.uid === uid ? `this VM's interface ${held.spec.interface}` : held.spec.vm,
        };
      }
      return { ok: false, conflict: true };
    };

    let got: KnownClaim | undefined;
    // Already held (an earlier attempt, or the VM was placed before and is placed again).
    const mine = r.claims.ofVm(uid).filter((c) => mineOnIface(c) && (!iface.ipAddress || c.spec.address === iface.ipAddress))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (mine.length > 0) got = mine[0];
    const ranges = usableRanges(net.spec);
    if (!got) {
      // A fixed address, else the one the VM had (status.addresses survives a reschedule).
      const previous = r.vm.status?.addresses?.find((a) => a.name === iface.name && a.network === `${ns}/${netName}`)?.ipAddress;
      const wanted = iface.ipAddress ?? (previous && rangesContain(ranges, previous) ? previous : undefined);
      if (wanted) {
        const t = await tryClaim(wanted);
        if (t.ok) {
          got = t.claim;
          if (t.created) created.push(t.claim);
        } else if (iface.ipAddress) {
          if ('conflict' in t) return fail('Conflict', `${where}: lost every race for ${wanted}`);
          return fail('AddressInUse', `${where}: ${wanted} is held by ${t.holder}`);
        }
      }
    }
    if (!got) {
      const total = countUsable(ranges);
      const start = Math.floor(r.rng() * total);
      let collisions = 0;
      for (let i = 0; i < total && !got; i++) {
        const n = nthUsable(ranges, (start + i) % total);
        if (r.claims.isUsed(ns, netName, n)) continue;
        r.claims.reserve(ns, netName, n);
        let t: TryOutcome;
        try {
          t = await tryClaim(numberToIpv4(n));
        } finally {
          r.claims.unreserve(ns, netName, n);
        }
        if (t.ok) {
          got = t.claim;
          if (t.created) created.push(t.claim);
          continue;
        }
        r.onCollision?.();
        if (++collisions >= (r.maxCollisions ?? 64)) {
          return fail('Conflict', `${where}: lost ${collisions} races for addresses in a row`);
        }
      }
      if (!got) return fail('NoAddressAvailable', `${where}: no address available (${total} usable, all claimed)`);
    }
    const prefixLength = parseCidr(net.spec.cidr).prefixLength;
    const gateway = effectiveGateway(net.spec);
    addresses.push({
      name: iface.name, network: `${ns}/${netName}`, ipAddress: got.spec.address, prefixLength,
      ...(gateway ? { gateway } : {}), ...(net.spec.dns?.length ? { dns: [...net.spec.dns] } : {}), mac: macFor(uid, iface.index),
    });
  }
  return { ok: true, addresses, created };
}

/** The k-th usable address (0-based) of sorted disjoint ranges. */
export function nthUsable(ranges: ReadonlyArray<{ from: number; to: number }>, k: number): number {
  for (const r of ranges) {
    const size = r.to - r.from + 1;
    if (k < size) return r.from + k;
    k -= size;
  }
  throw new RangeError(`address index ${k} beyond the usable ranges`);
}

export function addressClaimKey(namespace: string, name: string): ObjectKey {
  return { kind: ADDRESS_CLAIM_KIND, namespace, name };
}

/**
 * Deletes a claim if it is still the same holding (same VM uid; the object's uid when known, else
 * read at SERIAL): a compare-and-set delete, so a claim another VM took since is never removed.
 * True when deleted.
 */
export async function releaseAddressClaim(
  store: ObjectStore, c: Pick<KnownClaim, 'namespace' | 'name' | 'objectUid' | 'spec'>,
  cache?: Pick<AddressClaimView, 'forget'>, also?: (cur: AddressClaimSpec) => boolean,
): Promise<boolean> {
  const key = addressClaimKey(c.namespace, c.name);
  let objectUid = c.objectUid;
  if (!objectUid || also) {
    const cur = await store.get<AddressClaimObject>(key, { serial: true });
    if (!cur || cur.spec.uid !== c.spec.uid || (c.objectUid && cur.metadata.uid !== c.objectUid) || (also && !also(cur.spec))) return false;
    objectUid = cur.metadata.uid;
  }
  try {
    await store.delete(key, { preconditions: { uid: objectUid } });
    cache?.forget(c.namespace, c.name);
    return true;
  } catch (err) {
    if (hasCode(err, ErrorCode.NotFound)) {
      cache?.forget(c.namespace, c.name);
      return false;
    }
    // another holding under the same name now (or a delete raced ours): not ours to remove
    if (hasCode(err, ErrorCode.Conflict)) return false;
    throw err;
  }
}
