// One placement decision, pure: filter the hosts (stopping once a bounded sample of feasible
// hosts is found, so the cost does not grow with the cluster), score the sample, rank it. The
// scheduler then tries the top few in random order (so replicas rarely pick the same host).

import type { Placement } from '../../schemas/types.gen';
import type { LabelSelector } from '../../kube/selectors';
import { compileTerms, filterHost, type CompiledTerm, type HostView, type NetworkNeed, type PlacedVm } from './filters';
import { policyScore, preferenceScore, scoreOf, utilization, type Policy } from './scores';
import { allocatedAt, AT, F_CAPACITY, F_CORDONED, F_LIBVIRT_DOWN, F_LOAD, F_READY, F_TAINTED, shortageAt, STRIDE, type PackedHosts } from './packed';
import type { Resources } from './resources';

export interface ClusterSnapshot {
  /** every host, in a stable order */
  hosts: readonly HostView[];
  host(name: string): HostView | undefined;
  /** what is claimed on a host (bound VMs and in-flight claims) */
  allocated(host: string): Resources;
  /** VMs bound or claimed in a namespace whose labels match `selector` (only read for VMs with affinity rules) */
  placedMatching(namespace: string, selector: LabelSelector): Iterable<PlacedVm>;
  /**
   * The hosts carrying label key=value, in the order of `hosts` (a label index). Lets a VM with
   * a host selector scan only the hosts it could use, so its decision costs the same in a cluster
   * where few hosts match as in one where all do. Optional: without it every host is scanned.
   */
  hostsLabeled?(key: string, value: string): readonly HostView[];
  /** The hosts' numbers packed in `hosts` order (packed.ts), for the scan's fast path. Optional. */
  packed?(): PackedHosts;
  /**
   * Required anti-affinity terms of placed VMs that select `vm` (Kubernetes' symmetric rule),
   * compiled as if `vm` held them: their domains are closed to it. Optional.
   */
  symmetricTerms?(vm: Pick<VmToPlace, 'key' | 'namespace' | 'labels'>): CompiledTerm[];
}

export interface VmToPlace {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  request: Resources;
  placement?: Placement;
  /**
   * The one host the VM may go to (e.g. where its Volumes live), and the reason counted for every
   * other host when nothing fits (e.g. "volume on another host").
   */
  onlyHost?: { host: string; why: string };
  /** the Networks of its interfaces: only hosts that can build them all fit */
  networks?: readonly NetworkNeed[];
  /** shared storage pools holding its disks: only hosts that have them all fit */
  sharedPools?: readonly string[];
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
  /**
   * Keep only the best `keep` feasible hosts in `ranked` (the scheduler tries a handful): they
   * are kept in order as found, which is cheaper than sorting the whole sample. Default: all.
   */
  keep?: number;
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
  /** feasible hosts, best first (at most `keep`) */
  ranked: RankedHost[];
  /** feasible hosts found (the sample; `ranked` may hold fewer) */
  feasible: number;
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
  const own = hasTerms
    ? compileTerms(vm.placement ?? {}, vm, (sel) => snap.placedMatching(vm.namespace, sel), (h) => snap.host(h))
    : [];
  const symmetric = snap.symmetricTerms?.(vm) ?? [];
  const terms = symmetric.length === 0 ? own : [...own, ...symmetric];
  const sel = vm.placement?.hostSelector;
  const networks = vm.networks && vm.networks.length > 0 ? vm.networks : undefined;
  const sharedPools = vm.sharedPools && vm.sharedPools.length > 0 ? vm.sharedPools : undefined;
  const input = { request: vm.request, hostSelector: sel ? Object.entries(sel) : undefined, tolerations, terms, networks, sharedPools };
  const reasons: Record<string, number> = {};
  const ranked: RankedHost[] = [];
  // With a host selector and a label index, only the hosts with the rarest of its labels: from
  // the packed index (slots), else from hostsLabeled (views).
  const pk = snap.packed?.();
  let d = pk && pk.data.length === n * STRIDE ? pk.data : undefined;
  let scan: readonly HostView[] = hosts;
  let slots: Int32Array | undefined;
  let scanned: [string, string] | undefined;
  if (sel && (d || snap.hostsLabeled)) {
    let best = n;
    for (const [k, v] of Object.entries(sel)) {
      if (v === undefined) continue;
      const size = d ? pk!.labelled(k, v).length : snap.hostsLabeled!(k, v).length;
      if (size < best || !scanned) {
        best = size;
        scanned = [k, v];
      }
    }
    if (scanned && d) slots = pk!.labelled(...scanned);
    else if (scanned) scan = snap.hostsLabeled!(...scanned);
  }
  if (vm.onlyHost) {
    // A single candidate: filtered from its view, by every filter.
    const only = snap.host(vm.onlyHost.host);
    scan = only ? [only] : [];
    slots = undefined;
    scanned = undefined;
    d = undefined;
  }
  const m = slots ? slots.length : scan.length;
  const start = m === 0 ? 0 : (((o.startIndex ?? 0) % m) + m) % m;
  const keep = Math.max(1, o.keep ?? Infinity);
  let feasible = 0;
  let evaluated = 0;
  // The fast path reads only the packed numbers of a host, unless its decision needs its labels,
  // taints or affinity domains; both paths apply the same filters in the same order. Hosts from
  // the label index match the selector already when it has a single label.
  const selectorDone = !sel || (slots !== undefined && Object.values(sel).filter((v) => v !== undefined).length === 1);
  const viewFree = selectorDone && terms.length === 0 && !networks && !sharedPools;
  const req = vm.request;
  for (let i = 0; i < m && feasible < sample; i++) {
    const slot = slots ? slots[(start + i) % m] : (start + i) % m;
    evaluated++;
    let why: string | undefined;
    let score: number;
    let h: HostView | undefined;
    if (d) {
      const b = slot * STRIDE;
      const f = d[b + AT.flags];
      if (!(f & F_READY)) why = 'not ready';
      else if (f & F_LIBVIRT_DOWN) why = 'libvirt unreachable';
      else if (f & F_CORDONED) why = 'cordoned';
      else if (!(f & F_CAPACITY)) why = 'no capacity reported';
      else if (viewFree && !(f & F_TAINTED)) {
        const short = shortageAt(d, slot, req);
        if (short) why = `insufficient ${short}`;
      } else {
        h = hosts[slot];
        why = filterHost(input, h, allocatedAt(d, slot));
      }
      if (why) {
        reasons[why] = (reasons[why] ?? 0) + 1;
        continue;
      }
      const u = utilization(req.cpu + d[b + AT.ucpu], d[b + AT.acpu], req.memory + d[b + AT.umem], d[b + AT.amem], req.storage + d[b + AT.usto], d[b + AT.asto]);
      score = scoreOf(policy, u, f & F_LOAD ? d[b + AT.load] : undefined);
      if (h) score += preferenceScore(terms, tolerations, h);
    } else {
      h = scan[slot];
      const allocated = snap.allocated(h.name);
      why = filterHost(input, h, allocated);
      if (why) {
        reasons[why] = (reasons[why] ?? 0) + 1;
        continue;
      }
      score = policyScore(policy, h, req, allocated);
      if (terms.length > 0 || h.taints.length > 0) score += preferenceScore(terms, tolerations, h);
    }
    feasible++;
    const tie = o.rng?.();
    // Most hosts of a large sample do not make the top few: skip them before reading their name.
    const worst = ranked.length >= keep ? ranked[ranked.length - 1] : undefined;
    if (worst && (score < worst.score || (score === worst.score && tie !== undefined && worst.tie !== undefined && tie > worst.tie))) continue;
    const r: RankedHost = { host: (h ?? (d ? hosts[slot] : scan[slot])).name, score, tie };
    if (worst && better(worst, r)) continue;
    // Insert in order (the list is short), dropping the worst beyond `keep`.
    let j = ranked.length;
    ranked.push(r);
    while (j > 0 && better(r, ranked[j - 1])) {
      ranked[j] = ranked[j - 1];
      j--;
    }
    ranked[j] = r;
    if (ranked.length > keep) ranked.pop();
  }
  if (vm.onlyHost && feasible === 0 && n > scan.length) reasons[vm.onlyHost.why] = (reasons[vm.onlyHost.why] ?? 0) + n - scan.length;
  // Nothing fits: the message counts every host's first failing filter, so filter the hosts the
  // label index left out too (only on this path, which is retried when hosts change).
  if (scanned && feasible === 0) {
    const [k, v] = scanned;
    for (const h of hosts) {
      if (h.labels[k] === v) continue;
      const why = filterHost(input, h, snap.allocated(h.name)) ?? 'host selector mismatch';
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
  }
  return { total: n, evaluated, ranked, feasible, reasons };
}

/** True if `a` ranks before `b`: higher score, then the random tie-breaker, then the name. */
function better(a: RankedHost, b: RankedHost): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.tie !== undefined && b.tie !== undefined && a.tie !== b.tie) return a.tie < b.tie;
  return a.host < b.host;
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
