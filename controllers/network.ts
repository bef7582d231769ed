// The network controller: Network status (addresses total/used/free from the AddressClaims,
// effective gateway and VNI, Ready with a reason, and for shared networks the addresses of each
// project's VMs) and the in-use finalizer (kept while VMs or claims use a Network being deleted,
// removed once none does, which completes the delete); SecurityGroup status (member interfaces
// and their addresses). Status is written only when it changed, by compare-and-set.

import type { Logger } from 'pino';
import type { AddressClaimObject, NetworkObject, ObjectStore, SecurityGroupObject, VirtualMachineObject } from '../store';
import type { NetworkStatus, SecurityGroupStatus } from '../schemas/types.gen';
import { setCondition } from '../kube/conditions';
import { jsonEqual } from '../kube/equal';
import {
  countUsable, derivedVni, effectiveGateway, NETWORK_FINALIZER, networkInterfaces, networkSpecProblems, usableRanges,
} from '../kube/networks';
import type { PlacementMetrics } from './metrics';
import { Controller, splitKey, storeKey, systemClock, type CachedObject, type Clock, type Informer, type ReconcileResult } from '../runtime';
import { ADDRESS_CLAIM_KIND } from './ipam';
import { ErrorCode, hasCode } from '../errors';

/** Index of VMs by the Networks ("ns/name") of their interfaces. */
export const VMS_BY_NETWORK = 'network';
/** Index of VMs by the SecurityGroups ("ns/name") of their interfaces. */
export const VMS_BY_SECURITY_GROUP = 'securityGroup';
/** Index of AddressClaims by their Network ("ns/name"). */
export const CLAIMS_BY_NETWORK = 'network';

export interface NetworkControllerOptions {
  store: ObjectStore;
  informers: {
    networks: Informer<NetworkObject>;
    securityGroups: Informer<SecurityGroupObject>;
    vms: Informer<VirtualMachineObject>;
    addressClaims: Informer<AddressClaimObject>;
  };
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  workers?: number;
  resyncPeriodMs?: number;
}

const vmNetworks = (vm: CachedObject<VirtualMachineObject>) => networkInterfaces(vm.metadata.namespace ?? '', vm.spec);
const vmKeyOf = (vm: CachedObject<VirtualMachineObject>) => `${vm.metadata.namespace ?? ''}/${vm.metadata.name}`;

/** Adds the indexes the controller reads; call before the informers start (buildReplica does). */
export function addNetworkIndexes(i: NetworkControllerOptions['informers']): void {
  i.vms.addIndex(VMS_BY_NETWORK, (vm) => [...new Set(vmNetworks(vm).map((n) => `${n.ref.namespace}/${n.ref.name}`))]);
  i.vms.addIndex(VMS_BY_SECURITY_GROUP, (vm) => [...new Set(vmNetworks(vm).flatMap((n) => n.securityGroups.map((g) => `${vm.metadata.namespace ?? ''}/${g}`)))]);
  i.addressClaims.addIndex(CLAIMS_BY_NETWORK, (c) => [`${c.metadata.namespace ?? ''}/${c.spec.network}`]);
}

const N = 'n:';
const S = 's:';

export class NetworkController {
  readonly name = 'network';
  readonly controller: Controller;
  private readonly clock: Clock;

  constructor(private readonly o: NetworkControllerOptions) {
    this.clock = o.clock ?? systemClock;
    this.controller = new Controller({
      name: this.name, logger: o.logger, clock: this.clock, metrics: o.metrics.runtime,
      workers: o.workers ?? 4, resyncPeriodMs: o.resyncPeriodMs, queue: { qps: 200, burst: 1000 },
      reconciler: (k) => (k.startsWith(N) ? this.reconcileNetwork(k.slice(N.length)) : this.reconcileGroup(k.slice(S.length))),
    });
    const { networks, securityGroups, vms, addressClaims } = o.informers;
    this.controller.watch(networks, (n) => `${N}${n.metadata.namespace ?? ''}/${n.metadata.name}`);
    // a group's rules may name another group of the project: re-check the project's groups
    this.controller.watch(securityGroups, (g) => securityGroups.list().filter((x) => x.metadata.namespace === g.metadata.namespace)
      .map((x) => `${S}${x.metadata.namespace ?? ''}/${x.metadata.name}`));
    this.controller.watch(vms, (vm) => {
      const nets = vmNetworks(vm);
      return [
        ...nets.map((n) => `${N}${n.ref.namespace}/${n.ref.name}`),
        ...nets.flatMap((n) => n.securityGroups.map((g) => `${S}${vm.metadata.namespace ?? ''}/${g}`)),
      ];
    });
    this.controller.watch(addressClaims, (c) => `${N}${c.metadata.namespace ?? ''}/${c.spec.network}`);
  }

  start(signal: AbortSignal): Promise<void> {
    return this.controller.start(signal);
  }

  async reconcileNetwork(key: string): Promise<ReconcileResult> {
    const net = this.o.informers.networks.get(key);
    if (!net) return {};
    const uid = net.metadata.uid!;
    const users = this.o.informers.vms.byIndex(VMS_BY_NETWORK, key);
    const claims = this.o.informers.addressClaims.byIndex(CLAIMS_BY_NETWORK, key).filter((c) => c.spec.networkUID === uid);
    const deleting = !!net.metadata.deletionTimestamp;
    const finalizers = net.metadata.finalizers ?? [];
    if (deleting && users.length === 0 && claims.length === 0 && finalizers.includes(NETWORK_FINALIZER)) {
      return this.release(net);
    }
    if (!deleting && !finalizers.includes(NETWORK_FINALIZER)) await this.holdFinalizer(net);

    const status = this.networkStatus(net, users, claims.length);
    if (!jsonEqual(net.status, status)) await this.writeStatus(net, status);
    return {};
  }

  /** The status a Network should show (the Ready condition keeps its transition time when unchanged). */
  networkStatus(net: CachedObject<NetworkObject>, users: readonly CachedObject<VirtualMachineObject>[], used: number): NetworkStatus {
    const key = `${net.metadata.namespace ?? ''}/${net.metadata.name}`;
    const problems = networkSpecProblems(net.spec);
    const status: NetworkStatus = { observedGeneration: net.metadata.generation };
    let ready: { status: 'True' | 'False'; reason: string; message: string };
    if (problems.length > 0) {
      ready = { status: 'False', reason: 'InvalidSpec', message: problems.map((p) => `${p.field} ${p.message}`).join('; ') };
      status.addresses = { total: 0, used, free: 0 };
    } else {
      const total = countUsable(usableRanges(net.spec));
      const free = Math.max(0, total - used);
      status.addresses = { total, used, free };
      const gateway = effectiveGateway(net.spec);
      if (gateway) status.gateway = gateway;
      if (net.spec.mode === 'overlay') status.vni = net.spec.vni ?? derivedVni(net.metadata.uid!);
      ready = free === 0
        ? { status: 'True', reason: 'Exhausted', message: 'no free address' }
        : { status: 'True', reason: 'Ready', message: 'addresses can be handed out' };
    }
    if (net.metadata.deletionTimestamp) {
      const names = users.map(vmKeyOf).sort();
      const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '');
      ready = names.length > 0
        ? { status: 'False', reason: 'InUse', message: `used by ${names.length} VM${names.length === 1 ? '' : 's'}: ${shown}` }
        : { status: 'False', reason: 'InUse', message: `${used} address claim${used === 1 ? '' : 's'} still to be released` };
    }
    status.conditions = setCondition(net.status?.conditions, { type: 'Ready', ...ready, observedGeneration: net.metadata.generation }, this.clock.now());
    if (net.spec.shared) {
      const byProject = new Map<string, Set<string>>();
      for (const vm of users) {
        for (const a of vm.status?.addresses ?? []) {
          if (a.network !== key) continue;
          const p = vm.metadata.namespace ?? '';
          let s = byProject.get(p);
          if (!s) byProject.set(p, (s = new Set()));
          s.add(a.ipAddress);
        }
      }
      status.members = [...byProject].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([project, s]) => ({ project, addresses: [...s].sort(compareIp) }));
    }
    return status;
  }

  /**
   * A Network being deleted that nothing uses any more: confirmed with fresh lists (the
   * informers may lag a VM or claim just written), then the finalizer is removed.
   */
  private async release(net: CachedObject<NetworkObject>): Promise<ReconcileResult> {
    const ns = net.metadata.namespace ?? '';
    const key = `${ns}/${net.metadata.name}`;
    const vmNamespace = net.spec.shared ? undefined : ns;
    for (let cont: string | undefined, first = true; first || cont; first = false) {
      const page = await this.o.store.list<VirtualMachineObject>('VirtualMachine', vmNamespace, { limit: 500, continue: cont });
      if (page.items.some((vm) => vmNetworks(vm).some((n) => `${n.ref.namespace}/${n.ref.name}` === key))) return { requeueAfterMs: 1000 };
      cont = page.continue;
    }
    for (let cont: string | undefined, first = true; first || cont; first = false) {
      const page = await this.o.store.list<AddressClaimObject>(ADDRESS_CLAIM_KIND, ns, { limit: 500, continue: cont });
      if (page.items.some((c) => c.spec.network === net.metadata.name && c.spec.networkUID === net.metadata.uid)) return { requeueAfterMs: 1000 };
      cont = page.continue;
    }
    try {
      await this.o.store.guaranteedUpdate<NetworkObject>(storeKey('Network', key), (cur) => {
        if (cur.metadata.uid !== net.metadata.uid || !(cur.metadata.finalizers ?? []).includes(NETWORK_FINALIZER)) return undefined;
        cur.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== NETWORK_FINALIZER);
        return cur;
      });
      this.o.logger.info({ network: key }, 'network no longer used: finalizer removed');
    } catch (err) {
      if (!hasCode(err, ErrorCode.NotFound)) throw err;
    }
    return {};
  }

  /** The API adds the finalizer on create; objects written by other means get it here. */
  private async holdFinalizer(net: CachedObject<NetworkObject>): Promise<void> {
    try {
      await this.o.store.guaranteedUpdate<NetworkObject>(storeKey('Network', `${net.metadata.namespace ?? ''}/${net.metadata.name}`), (cur) => {
        const fin = cur.metadata.finalizers ?? [];
        if (cur.metadata.uid !== net.metadata.uid || cur.metadata.deletionTimestamp || fin.includes(NETWORK_FINALIZER)) return undefined;
        cur.metadata.finalizers = [...fin, NETWORK_FINALIZER];
        return cur;
      });
    } catch (err) {
      if (!hasCode(err, ErrorCode.NotFound)) throw err;
    }
  }

  private async writeStatus<T extends NetworkObject | SecurityGroupObject>(obj: CachedObject<T>, status: T['status']): Promise<void> {
    try {
      // compare-and-set on the cached resourceVersion
      await this.o.store.updateStatus({ ...obj, status } as T, { current: obj as T });
    } catch (err) {
      // A conflict means a newer object (often another replica's same status): its arrival in the
      // informer queues the key again, so no backoff here (replicas racing would stretch it to minutes).
      if (!hasCode(err, ErrorCode.NotFound) && !hasCode(err, ErrorCode.Conflict)) throw err;
    }
  }

  async reconcileGroup(key: string): Promise<ReconcileResult> {
    const sg = this.o.informers.securityGroups.get(key);
    if (!sg) return {};
    const { namespace, name } = splitKey(key);
    let members = 0;
    const addresses = new Set<string>();
    for (const vm of this.o.informers.vms.byIndex(VMS_BY_SECURITY_GROUP, key)) {
      for (const iface of vmNetworks(vm)) {
        if (!iface.securityGroups.includes(name)) continue;
        members++;
        const a = vm.status?.addresses?.find((x) => x.name === iface.name);
        if (a) addresses.add(a.ipAddress);
      }
    }
    const unknown: string[] = [];
    for (const [dir, rules] of [['ingress', sg.spec.ingress], ['egress', sg.spec.egress]] as const) {
      (rules ?? []).forEach((r, i) => {
        if (r.securityGroup && !this.o.informers.securityGroups.get(`${namespace}/${r.securityGroup}`)) unknown.push(`${dir}[${i}] names security group ${r.securityGroup}, which does not exist`);
      });
    }
    const status: SecurityGroupStatus = {
      observedGeneration: sg.metadata.generation, members, addresses: [...addresses].sort(compareIp),
      conditions: setCondition(sg.status?.conditions, {
        type: 'Ready', observedGeneration: sg.metadata.generation,
        ...(unknown.length > 0
          ? { status: 'False', reason: 'UnknownSecurityGroup', message: `${unknown.join('; ')} (its peers are none until it does)` }
          : { status: 'True', reason: 'Ready', message: `${members} member interface${members === 1 ? '' : 's'}` }),
      }, this.clock.now()),
    };
    if (!jsonEqual(sg.status, status)) await this.writeStatus(sg, status);
    return {};
  }
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
