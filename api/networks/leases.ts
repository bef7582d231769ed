// GET …/namespaces/NS/networks/NAME/leases: who holds which address of a Network, read-only. The
// addresses are AddressClaims (internal, never served themselves: controllers/ipam/ writes them);
// this lists the Network's claims as {address, vm, interface, mac, since}, in address order.
// Authorized as `get` of networks/leases: whoever may read the Network. A VM of a project the
// caller may not see (on a shared Network) shows as "<project>/*", without its name or MAC.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { BadRequestError } from '../../errors';
import { ipv4ToNumber, macFor } from '../../kube/networks';
import { isoSeconds } from '../../kube/time';
import type { NetworkObject, VirtualMachineObject } from '../../kube/types';
import { API_VERSION, kindByPlural } from '../../schemas/kinds';
import type { ObjectStore } from '../../store';
import type { Verb } from '../auth/authorizer';
import { sendObject } from '../negotiate';
import type { Target } from '../target';
import { claimsOf } from './admission';

export interface NetworkLease {
  address: string;
  /** "<project>/<name>" of the holding VM ("<project>/*" when the caller may not see that project) */
  vm: string;
  /** the VM's interface (spec.networks[].name) */
  interface: string;
  mac?: string;
  /** when the address was claimed (RFC 3339) */
  since?: string;
}

export interface NetworkLeaseList {
  apiVersion: string;
  kind: 'NetworkLeaseList';
  metadata: { resourceVersion: string };
  items: NetworkLease[];
}

export interface LeaseRoutesOptions {
  store: ObjectStore;
  authorize: (ctx: Context, t: Target, verb: Verb) => Promise<void>;
  /** whether the caller may see the objects of a project */
  mayView: (ctx: Context, project: string) => Promise<boolean>;
}

/** The leases of `network`, with the VMs' MACs where the caller may see them. */
export async function networkLeases(store: ObjectStore, network: NetworkObject, mayView: (project: string) => Promise<boolean>): Promise<NetworkLease[]> {
  const claims = await claimsOf(store, network);
  const key = `${network.metadata.namespace}/${network.metadata.name}`;
  // The holders, read per project in one batch each.
  const byProject = new Map<string, string[]>();
  for (const c of claims) {
    const slash = c.spec.vm.indexOf('/');
    const [ns, name] = [c.spec.vm.slice(0, slash), c.spec.vm.slice(slash + 1)];
    byProject.set(ns, [...(byProject.get(ns) ?? []), name]);
  }
  const visible = new Map<string, boolean>();
  const vms = new Map<string, VirtualMachineObject>();
  for (const [ns, names] of byProject) {
    const may = ns === network.metadata.namespace || (await mayView(ns));
    visible.set(ns, may);
    if (!may) continue;
    const found = await store.getMany<VirtualMachineObject>('VirtualMachine', ns, [...new Set(names)]);
    for (const vm of found) if (vm) vms.set(`${ns}/${vm.metadata.name}`, vm);
  }
  const leases = claims.map((c): NetworkLease => {
    const ns = c.spec.vm.slice(0, c.spec.vm.indexOf('/'));
    const since = Number.isFinite(c.spec.at) ? isoSeconds(c.spec.at) : undefined;
    if (!visible.get(ns)) return { address: c.spec.address, vm: `${ns}/*`, interface: c.spec.interface, ...(since ? { since } : {}) };
    const vm = vms.get(c.spec.vm);
    let mac: string | undefined;
    if (vm && vm.metadata.uid === c.spec.uid) {
      mac = vm.status?.addresses?.find((a) => a.name === c.spec.interface && a.network === key)?.mac;
      const index = (vm.spec.networks ?? []).findIndex((n) => n.name === c.spec.interface);
      if (!mac && index >= 0) mac = macFor(c.spec.uid, index);
    }
    return { address: c.spec.address, vm: c.spec.vm, interface: c.spec.interface, ...(mac ? { mac } : {}), ...(since ? { since } : {}) };
  });
  return leases.sort((a, b) => (ipv4ToNumber(a.address) ?? 0) - (ipv4ToNumber(b.address) ?? 0));
}

export function mountLeases(router: Router, base: string, o: LeaseRoutesOptions): void {
  const kind = kindByPlural('networks')!;
  router.get(`${base}/namespaces/:namespace/networks/:name/leases`, async (ctx) => {
    const { namespace, name } = ctx.params as Record<string, string>;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new BadRequestError(`invalid namespace "${namespace}"`);
    const t: Target = { kind, namespace, name, allNamespaces: false, subresource: 'leases' };
    ctx.state.target = t;
    ctx.state.verb = 'get';
    await o.authorize(ctx, t, 'get');
    const network = await o.store.mustGet<NetworkObject>({ kind: 'Network', namespace, name });
    const items = await networkLeases(o.store, network, (p) => o.mayView(ctx, p));
    const body: NetworkLeaseList = { apiVersion: API_VERSION, kind: 'NetworkLeaseList', metadata: { resourceVersion: o.store.currentResourceVersion() }, items };
    sendObject(ctx, body);
  });
}
