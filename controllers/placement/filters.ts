// Placement filters: pure predicates over one host, each returning why the host is rejected
// (the words of the Unschedulable message) or undefined. Order matters: the first failing
// filter is the one counted for a host.

import { labelSelectorFromObject, matchesLabels, type LabelSelector } from '../../store/selectors';
import type { AffinityTerm, Taint, Toleration } from '../../schemas/types.gen';
import { firstShortage, type Resources } from './resources';

/** What placement knows of a host, parsed once per host change. */
export interface HostView {
  name: string;
  labels: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  unschedulable: boolean;
  /** the host-health controller says the agent's lease is fresh */
  ready: boolean;
  /** undefined: the agent has not reported capacity */
  allocatable?: Resources;
  /** measured load, 0..1, when the agent pushes it */
  load?: number;
}

/** A VM already bound to or claimed on a host. */
export interface PlacedVm {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  host: string;
}

export const HOST_TOPOLOGY_KEY = 'host';

/** The topology domain of a host for a key ("host" means the host itself). */
export function domainOf(host: HostView, topologyKey: string): string | undefined {
  return topologyKey === HOST_TOPOLOGY_KEY ? host.name : host.labels[topologyKey];
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
    const selector = labelSelectorFromObject((t.labelSelector ?? {}) as Parameters<typeof labelSelectorFromObject>[0]);
    const topologyKey = t.topologyKey ?? HOST_TOPOLOGY_KEY;
    const domains = new Set<string>();
    for (const p of placed(selector)) {
      if (p.key === self.key || !matchesLabels(selector, p.labels)) continue;
      const h = hostByName(p.host);
      const d = h ? domainOf(h, topologyKey) : topologyKey === HOST_TOPOLOGY_KEY ? p.host : undefined;
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

export interface FilterInput {
  request: Resources;
  /** the host selector as [key, value] pairs (precomputed once per decision) */
  hostSelector?: readonly (readonly [string, string | undefined])[];
  tolerations: readonly Toleration[];
  terms: readonly CompiledTerm[];
}

/** Runs the filters in order; returns the first reason the host is rejected, or undefined. */
export function filterHost(vm: FilterInput, host: HostView, allocated: Resources): string | undefined {
  if (!host.ready) return 'not ready';
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
