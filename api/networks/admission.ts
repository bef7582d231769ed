// Admission of Networks, SecurityGroups and VM interfaces: what the schemas cannot say, refused with
// a 422 naming the field (or a 403 for spec.shared), before anything is written.
//   Network        CIDR arithmetic (kube/networks.ts), no overlap with another Network of the
//                  project, cidr/mode/vni/bridge immutable, reserved never covering a held address,
//                  spec.shared for cluster administrators; the in-use finalizer added on create.
//   SecurityGroup  one peer per rule (cidr or securityGroup), ports only for tcp/udp, in 1-65535.
//   VM             fixed addresses and security groups only on Networks; another project's
//                  Network only when shared; a fixed address usable on its Network when that exists
//                  (an unknown Network of the own project is allowed: the VM waits, NetworkNotFound).
// The overlap check reads the project's Networks, it claims nothing: two creates of overlapping
// Networks racing through two frontends within one request's time may both pass.

import { ForbiddenError, type StatusCause } from '../../errors';
import { jsonEqual } from '../../kube/equal';
import { NETWORK_FINALIZER, cidrsOverlap, networkRefOf, parseCidr, usableRanges, rangesContain } from '../../kube/networks';
import type { AddressClaimObject, NetworkObject } from '../../kube/types';
import { GROUP } from '../../schemas/kinds';
import type { NetworkSpec, SecurityGroupSpec, VirtualMachineSpec } from '../../schemas/types.gen';
import type { ObjectStore, StoredObject } from '../../store';
import type { Admission, AdmissionRequest, Admitted } from '../admission';
import type { UserInfo } from '../auth/identity';
import { invalid } from '../invalid';
import {
  IMMUTABLE_NETWORK_FIELDS, fixedAddressProblem, invalidCause, networkCauses, securityGroupCauses, vmInterfaceCauses,
} from './rules';

export interface NetworkAdmissionOptions {
  store: ObjectStore;
  /** whether the caller is a cluster administrator (may share networks) */
  isAdmin: (user: UserInfo) => boolean;
}

/** Every object of a kind in one project, page by page. */
export async function listAll<T extends StoredObject>(store: ObjectStore, kind: string, namespace: string): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await store.list<T>(kind, namespace, { continue: cont, limit: 1000 });
    out.push(...page.items);
    cont = page.continue;
  } while (cont);
  return out;
}

/** The AddressClaims of one Network (by name and uid: a claim of an earlier network of that name is not its). */
export async function claimsOf(store: ObjectStore, network: NetworkObject): Promise<AddressClaimObject[]> {
  const all = await listAll<AddressClaimObject>(store, 'AddressClaim', network.metadata.namespace ?? '');
  return all.filter((c) => c.spec.network === network.metadata.name && c.spec.networkUID === network.metadata.uid);
}

export class NetworkAdmission implements Admission {
  constructor(private readonly o: NetworkAdmissionOptions) {}

  async admit(req: AdmissionRequest): Promise<Admitted | undefined> {
    // Status writes and VM actions never change these specs.
    if (req.target.subresource) return undefined;
    switch (req.target.kind.kind) {
      case 'Network': await this.network(req); break;
      case 'SecurityGroup': this.securityGroup(req); break;
      case 'VirtualMachine': await this.vm(req); break;
    }
    return undefined;
  }

  private async network(req: AdmissionRequest): Promise<void> {
    const next = req.next as NetworkObject;
    const old = req.old as NetworkObject | undefined;
    const name = next.metadata.name;
    const namespace = next.metadata.namespace ?? req.target.namespace;
    const user = req.ctx.state.user as UserInfo | undefined;
    if (user && !this.o.isAdmin(user) && Boolean(next.spec.shared) !== Boolean(old?.spec.shared)) {
      throw new ForbiddenError(
        `networks.${GROUP} "${name}" is forbidden: User "${user.name}" may not change spec.shared: only cluster administrators share a Network with other projects`,
        { name, group: GROUP, kind: 'networks' },
      );
    }
    const causes: StatusCause[] = [];
    if (old) {
      for (const f of IMMUTABLE_NETWORK_FIELDS) {
        if (!jsonEqual(old.spec[f], next.spec[f])) causes.push(invalidCause(next, `spec.${f}`, 'field is immutable'));
      }
    }
    causes.push(...networkCauses(next));
    if (causes.length > 0) throw invalid('Network', name, causes);
    if (!old) {
      const overlap = await this.overlapping(namespace, name, next.spec);
      if (overlap) {
        throw invalid('Network', name, [invalidCause(next, 'spec.cidr', `overlaps ${overlap.spec.cidr} of Network "${overlap.metadata.name}" in project ${namespace}`)]);
      }
      const finalizers = next.metadata.finalizers ?? [];
      if (!finalizers.includes(NETWORK_FINALIZER)) next.metadata.finalizers = [...finalizers, NETWORK_FINALIZER];
    } else if (!jsonEqual(old.spec.reserved, next.spec.reserved) || !jsonEqual(old.spec.gateway, next.spec.gateway)) {
      await this.heldStayUsable(old, next);
    }
  }

  private async overlapping(namespace: string, name: string, spec: NetworkSpec): Promise<NetworkObject | undefined> {
    const mine = parseCidr(spec.cidr);
    const others = await listAll<NetworkObject>(this.o.store, 'Network', namespace);
    return others.find((n) => {
      if (n.metadata.name === name) return false;
      try {
        return cidrsOverlap(mine, parseCidr(n.spec.cidr));
      } catch {
        return false;
      }
    });
  }

  /** A new reserved range or gateway may not cover an address a VM interface holds now. */
  private async heldStayUsable(old: NetworkObject, next: NetworkObject): Promise<void> {
    const usable = usableRanges(next.spec);
    const causes: StatusCause[] = [];
    for (const c of await claimsOf(this.o.store, old)) {
      if (rangesContain(usable, c.spec.address)) continue;
      const field = next.spec.gateway === c.spec.address ? 'spec.gateway' : 'spec.reserved';
      causes.push(invalidCause(next, field, `would take ${c.spec.address}, which VM ${c.spec.vm} holds (interface ${c.spec.interface})`));
      if (causes.length >= 5) break;
    }
    if (causes.length > 0) throw invalid('Network', next.metadata.name, causes);
  }

  private securityGroup(req: AdmissionRequest): void {
    const next = req.next as StoredObject & { spec?: SecurityGroupSpec };
    const causes = securityGroupCauses(next);
    if (causes.length > 0) throw invalid('SecurityGroup', next.metadata.name, causes);
  }

  private async vm(req: AdmissionRequest): Promise<void> {
    const next = req.next as StoredObject & { spec: VirtualMachineSpec };
    const old = req.old as (StoredObject & { spec: VirtualMachineSpec }) | undefined;
    // Only what changes is checked: a VM stays writable after its shared Network stopped being shared.
    if (old && jsonEqual(old.spec.networks, next.spec.networks)) return;
    const name = next.metadata.name;
    const namespace = next.metadata.namespace ?? req.target.namespace;
    const causes = vmInterfaceCauses(next);
    const networks = new Map<string, NetworkObject | undefined>();
    for (const [i, n] of (next.spec.networks ?? []).entries()) {
      const ref = networkRefOf(namespace, n);
      if (!ref) continue;
      const key = `${ref.namespace}/${ref.name}`;
      if (!networks.has(key)) networks.set(key, await this.o.store.get<NetworkObject>({ kind: 'Network', namespace: ref.namespace, name: ref.name }));
      const net = networks.get(key);
      const own = ref.namespace === namespace;
      if (!own && (!net || net.spec.shared !== true)) {
        causes.push(invalidCause(next, `spec.networks[${i}].network`, `is not a shared Network: a VM attaches the Networks of its own project by name, or a shared Network of another project as <project>/<name>`));
        continue;
      }
      if (!net) continue; // the VM waits for it (NetworkNotFound)
      if (net.metadata.deletionTimestamp) {
        causes.push(invalidCause(next, `spec.networks[${i}].network`, `Network ${key} is being deleted`));
        continue;
      }
      if (n.ipAddress !== undefined) {
        const problem = fixedAddressProblem(net.spec, key, n.ipAddress);
        if (problem) causes.push(invalidCause(next, `spec.networks[${i}].ipAddress`, problem));
      }
    }
    if (causes.length > 0) throw invalid('VirtualMachine', name, causes);
  }
}
