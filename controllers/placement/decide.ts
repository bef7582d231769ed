// One placement decision, pure: filter the hosts (stopping once a bounded sample of feasible
// hosts is found, so the cost does not grow with the cluster), score the sample, rank it. The
// scheduler then tries the top few in random order (so replicas rarely pick the same host).

import type { Placement } from '../../schemas/types.gen';
import type { LabelSelector } from '../../store/selectors';
import { compileTerms, filterHost, type HostView, type PlacedVm } from './filters';
import { policyScore, preferenceScore, type Policy } from './scores';
import type { Resources } from './resources';

export interface ClusterSnapshot {
  /** every host, in a stable order */
  hosts: readonly HostView[];
  host(name: string): HostView | undefined;
  /** what is claimed on a host (bound VMs and in-flight claims) */
  allocated(host: string): Resources;
  /** VMs bound or claimed in a namespace whose labels match `selector` (only read for VMs with affinity rules) */
  placedMatching(namespace: string, selector: LabelSelector): Iterable<PlacedVm>;
}

export interface VmToPlace {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  request: Resources;
  placement?: Placement;
}

export interface DecideOptions {
  /** the cluster default when the VM names none; default spread */
  defaultPolicy?: Policy;
  /** stop filtering once this many feasible hosts are found; default 100 */
  sampleSize?: number;
  /** where to start scanning the host list (rotate it so decisions look at different hosts) */
  startIndex?: number;
  /** breaks ties between equal scores at random (so replicas do not all pick the same host); default by name */
  rng?: () => number;
}

export interface RankedHost {
  host: string;
  score: number;
  /** tie-breaker */
  tie?: number;
}

export interface Decision {
  total: number;
  /** hosts filtered (all of them when fewer than sampleSize are feasible) */
  evaluated: number;
  /** feasible hosts, best first */
  ranked: RankedHost[];
  /** rejected hosts by reason (complete when evaluated === total) */
  reasons: Record<string, number>;
}

export function decide(vm: VmToPlace, snap: ClusterSnapshot, o: DecideOptions = {}): Decision {
  const hosts = snap.hosts;
  const n = hosts.length;
  const sample = Math.max(1, o.sampleSize ?? 100);
  const policy = vm.placement?.policy ?? o.defaultPolicy ?? 'spread';
  const tolerations = vm.placement?.tolerations ?? [];
  const hasTerms = (vm.placement?.affinity?.length ?? 0) + (vm.placement?.antiAffinity?.length ?? 0) > 0;
  const terms = hasTerms
    ? compileTerms(vm.placement ?? {}, vm, (sel) => snap.placedMatching(vm.namespace, sel), (h) => snap.host(h))
    : [];
  const sel = vm.placement?.hostSelector;
  const input = { request: vm.request, hostSelector: sel ? Object.entries(sel) : undefined, tolerations, terms };
  const reasons: Record<string, number> = {};
  const ranked: RankedHost[] = [];
  const start = n === 0 ? 0 : (((o.startIndex ?? 0) % n) + n) % n;
  let evaluated = 0;
  for (let i = 0; i < n && ranked.length < sample; i++) {
    const h = hosts[(start + i) % n];
    evaluated++;
    const allocated = snap.allocated(h.name);
    const why = filterHost(input, h, allocated);
    if (why) {
      reasons[why] = (reasons[why] ?? 0) + 1;
      continue;
    }
    let score = policyScore(policy, h, vm.request, allocated);
    if (terms.length > 0 || h.taints.length > 0) score += preferenceScore(terms, tolerations, h);
    ranked.push({ host: h.name, score, tie: o.rng?.() });
  }
  ranked.sort((a, b) => b.score - a.score || (a.tie !== undefined && b.tie !== undefined ? a.tie - b.tie : a.host < b.host ? -1 : 1));
  return { total: n, evaluated, ranked, reasons };
}

/** The order to try hosts in: the top `k` shuffled, then the rest best first. */
export function candidateOrder(ranked: readonly RankedHost[], k: number, rng: () => number): string[] {
  const top = ranked.slice(0, Math.max(1, k)).map((r) => r.host);
  for (let i = top.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [top[i], top[j]] = [top[j], top[i]];
  }
  return [...top, ...ranked.slice(top.length).map((r) => r.host)];
}

/** "0/1000 hosts fit: 812 insufficient memory, 188 untolerated taint" */
export function unschedulableMessage(d: Pick<Decision, 'total' | 'reasons'>): string {
  if (d.total === 0) return '0/0 hosts fit: no hosts registered';
  const parts = Object.entries(d.reasons)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([why, count]) => `${count} ${why}`);
  return `0/${d.total} hosts fit: ${parts.join(', ')}`;
}
