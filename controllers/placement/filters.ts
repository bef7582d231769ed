// Placement filters: pure predicates over one host, each returning why the host is rejected
// (the words of the Unschedulable message) or undefined. Order matters: the first failing
// filter is the one counted for a host.

import { labelSelectorFromObject, matchesLabels, type LabelSelector } from '../../kube/selectors';
import type { AffinityTerm, HeldTerm, Placement, Taint, Toleration } from '../../schemas/types.gen';
import { firstShortage, type Resources } from './resources';

/** What placement knows of a host, parsed once per host change. */
export interface HostView {
  name: string;
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  unschedulable: boolean;
  /** the host-health controller says the agent's lease is fresh */
  ready: boolean;
  /** the agent reports it has lost its libvirt connection (LibvirtConnected=False) */
  libvirtDown?: boolean;
  /** undefined: the agent has not reported capacity */
  allocatable?: Resources;
  /** measured load, 0..1, when the agent pushes it */
  load?: number;
  /** what the agent can build for Networks (Host status.networking); undefined: nothing */
  networking?: { modes: readonly string[]; interfaces: readonly string[] };
  /** the shared storage pools the host mounts (Host status.storagePools, kube/disks.ts hostSharedPools) */
  sharedPools?: readonly string[];
}

/** A Network a VM attaches, as the host filter needs it. */
export interface NetworkNeed {
  /** the Network as the VM names it */
  name: string;
  mode: 'nat' | 'bridge' | 'overlay';
  /** mode bridge: the host interface the bridge enslaves */
  interface?: string;
}

/** Why `host` cannot attach `net`, or undefined when it can. */
export function cannotAttach(host: Pick<HostView, 'networking'>, net: NetworkNeed): string | undefined {
  const n = host.networking;
  const ok = n !== undefined && n.modes.includes(net.mode) && (net.mode !== 'bridge' || (net.interface !== undefined && n.interfaces.includes(net.interface)));
  if (ok) return undefined;
  return `cannot attach network ${net.name} (mode ${net.mode}${net.mode === 'bridge' && net.interface ? ` on ${net.interface}` : ''})`;
}

/** A VM already bound to or claimed on a host. */
export interface PlacedVm {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  host: string;
}

export const HOST_TOPOLOGY_KEY = 'host';

/**
 * A required anti-affinity term as a placed VM holds it: what the symmetric rule needs to keep
 * other VMs away (recorded in allocation claims, so terms of VMs still being bound count too;
 * schemas/hostallocation.json).
 */
export type { HeldTerm };

/** The required anti-affinity terms of a VM's placement, with the default topology key filled in. */
export function requiredAntiAffinity(placement: Pick<Placement, 'antiAffinity'> | undefined): HeldTerm[] {
  const out: HeldTerm[] = [];
  for (const t of placement?.antiAffinity ?? []) {
    if (t.required === false) continue;
    out.push({ labelSelector: t.labelSelector ?? {}, topologyKey: t.topologyKey ?? HOST_TOPOLOGY_KEY });
  }
  return out;
}

export function compileSelector(sel: AffinityTerm['labelSelector'] | undefined): LabelSelector {
  return labelSelectorFromObject(sel ?? {});
}

/**
 * The identity of a term: its selector in a canonical form (requirements and values sorted, so
 * matchLabels {app: web} and matchExpressions [app In (web)] are one term) and its topology key.
 */
export function termIdentity(selector: LabelSelector, topologyKey: string): string {
  const reqs = selector.requirements
    .map((r) => ('values' in r ? { key: r.key, op: r.op, values: [...new Set(r.values)].sort() } : { key: r.key, op: r.op }))
    .sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.op < b.op ? -1 : a.op > b.op ? 1 : 0));
  return JSON.stringify([topologyKey, reqs]);
}

/** The topology domain of a host for a key ("host" means the host itself). */
export function domainOf(host: HostView, topologyKey: string): string | undefined {
  return topologyKey === HOST_TOPOLOGY_KEY ? host.name : host.labels[topologyKey];
}

/** The domain of a VM placed on host `name` (a host the cache no longer knows still is its own "host" domain). */
function domainOfPlaced(name: string, topologyKey: string, hostByName: (name: string) => HostView | undefined): string | undefined {
  const h = hostByName(name);
  return h ? domainOf(h, topologyKey) : topologyKey === HOST_TOPOLOGY_KEY ? name : undefined;
}

export function tolerates(tols: readonly Toleration[], taint: Taint): boolean {
  return tols.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** A compiled affinity or anti-affinity term, with the domains its matching VMs occupy. */
export interface CompiledTerm {
  anti: boolean;
  required: boolean;
  weight: number;
  topologyKey: string;
  selector: LabelSelector;
  /** topology values holding at least one matching VM */
  domains: Set<string>;
  /** required affinity with no match anywhere, by a VM that matches itself: the first of its group may go anywhere */
  selfSatisfied: boolean;
}

export function compileTerms(
  terms: { affinity?: AffinityTerm[]; antiAffinity?: AffinityTerm[] },
  self: { key: string; labels: Readonly<Record<string, string>> },
  /** VMs of the same project matching a selector */
  placed: (selector: LabelSelector) => Iterable<PlacedVm>,
  hostByName: (name: string) => HostView | undefined,
): CompiledTerm[] {
  const out: CompiledTerm[] = [];
  const all = [
    ...(terms.affinity ?? []).map((t) => ({ t, anti: false })),
    ...(terms.antiAffinity ?? []).map((t) => ({ t, anti: true })),
  ];
  if (all.length === 0) return out;
  for (const { t, anti } of all) {
    const selector = compileSelector(t.labelSelector);
    const topologyKey = t.topologyKey ?? HOST_TOPOLOGY_KEY;
    const domains = new Set<string>();
    for (const p of placed(selector)) {
      if (p.key === self.key || !matchesLabels(selector, p.labels)) continue;
      const d = domainOfPlaced(p.host, topologyKey, hostByName);
      if (d !== undefined) domains.add(d);
    }
    const required = t.required ?? true;
    out.push({
      anti, required, weight: t.weight ?? 1, topologyKey, selector, domains,
      selfSatisfied: !anti && required && domains.size === 0 && matchesLabels(selector, self.labels),
    });
  }
  return out;
}

/** The placed VMs of one project holding one required anti-affinity term (kept by HeldTermIndex). */
export interface HeldTermHolders {
  /** termIdentity() */
  id: string;
  selector: LabelSelector;
  topologyKey: string;
  /** host → keys of the VMs holding the term there */
  holders: ReadonlyMap<string, ReadonlySet<string>>;
}

/** A held term as one source (bound VMs, claims) reports it; `counts` may drop holders another source reports. */
export interface HeldTermSource {
  term: HeldTermHolders;
  counts?: (vmKey: string) => boolean;
}

/**
 * Kubernetes' symmetric inter-pod anti-affinity: a placed VM whose required anti-affinity term
 * selects this VM keeps it out of its topology domain, as if this VM held the term itself. `held`
 * are the terms of the VM's project that select its labels (from an index, so the cost follows
 * the number of distinct terms and their holders, not the number of VMs). The VM's own entries (a VM being placed again) never count.
 */
export function compileSymmetricTerms(
  self: { key: string },
  held: Iterable<HeldTermSource>,
  hostByName: (name: string) => HostView | undefined,
): CompiledTerm[] {
  const byId = new Map<string, CompiledTerm>();
  for (const { term, counts } of held) {
    for (const [host, keys] of term.holders) {
      let holds = false;
      for (const k of keys) {
        if (k !== self.key && (!counts || counts(k))) {
          holds = true;
          break;
        }
      }
      if (!holds) continue;
      const d = domainOfPlaced(host, term.topologyKey, hostByName);
      if (d === undefined) continue;
      let t = byId.get(term.id);
      if (!t) {
        t = { anti: true, required: true, weight: 1, topologyKey: term.topologyKey, selector: term.selector, domains: new Set(), selfSatisfied: false };
        byId.set(term.id, t);
      }
      t.domains.add(d);
    }
  }
  return [...byId.values()];
}

export interface FilterInput {
  request: Resources;
  /** the host selector as [key, value] pairs (precomputed once per decision) */
  hostSelector?: readonly (readonly [string, string | undefined])[];
  tolerations: readonly Toleration[];
  terms: readonly CompiledTerm[];
  /** the Networks of the VM's interfaces */
  networks?: readonly NetworkNeed[];
  /** the shared storage pools the VM's existing disks live on (kube/disks.ts sharedPoolsNeeded): the host must have them all */
  sharedPools?: readonly string[];
}

/** Why `host` cannot reach the shared pools holding a VM's disks, or undefined when it can. */
export function lacksSharedPools(host: Pick<HostView, 'sharedPools'>, need: readonly string[] | undefined): string | undefined {
  const missing = (need ?? []).find((p) => !(host.sharedPools ?? []).includes(p));
  return missing === undefined ? undefined : `no shared storage pool ${missing}`;
}

/** Runs the filters in order; returns the first reason the host is rejected, or undefined. */
export function filterHost(vm: FilterInput, host: HostView, allocated: Resources): string | undefined {
  if (!host.ready) return 'not ready';
  if (host.libvirtDown) return 'libvirt unreachable';
  if (host.unschedulable) return 'cordoned';
  if (!host.allocatable) return 'no capacity reported';
  if (vm.hostSelector) {
    for (let i = 0; i < vm.hostSelector.length; i++) {
      const [k, v] = vm.hostSelector[i];
      if (host.labels[k] !== v) return 'host selector mismatch';
    }
  }
  for (let i = 0; i < host.taints.length; i++) {
    const taint = host.taints[i];
    if (taint.effect !== 'PreferNoSchedule' && !tolerates(vm.tolerations, taint)) return 'untolerated taint';
  }
  if (vm.networks) {
    for (const net of vm.networks) {
      const why = cannotAttach(host, net);
      if (why) return why;
    }
  }
  const storage = lacksSharedPools(host, vm.sharedPools);
  if (storage) return storage;
  for (const term of vm.terms) {
    if (!term.required) continue;
    const d = domainOf(host, term.topologyKey);
    if (term.anti) {
      if (d !== undefined && term.domains.has(d)) return 'anti-affinity conflict';
    } else if (!term.selfSatisfied && (d === undefined || !term.domains.has(d))) {
      return 'affinity not satisfied';
    }
  }
  const short = firstShortage(vm.request, allocated, host.allocatable);
  if (short) return `insufficient ${short}`;
  return undefined;
}
