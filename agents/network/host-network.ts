/**
 * HostNetworkController: the host side of the Networks of the VMs bound to one host. From those
 * VMs, the Networks they use, the SecurityGroups their interfaces name and the other Hosts (their
 * underlay address and built networks: the VXLAN remotes), it computes the HostNetworkState
 * (computeHostNetwork, pure) and hands it to the backend: debounced after a change of any of
 * those objects, one apply at a time, and again every repairMs whatever changed (a reboot or an
 * operator may have removed what was built; the backends are idempotent). Before its first apply
 * it waits for every cache to be synced: an apply from empty caches would tear down the networks
 * of running VMs.
 *
 * The VM reconciler calls ensure(vm) before defining or starting a domain: it resolves once the
 * VM's networks and ports are applied (its taps exist on their bridges, with their firewall, for
 * libvirt to open), or says why not. The result of the last apply is the Host's status.networks.
 */
import type { Logger } from 'pino';
import type { HostObject, NetworkObject, SecurityGroupObject, VirtualMachineObject } from '../../store';
import type { HostStatus, SecurityGroupRule } from '../../schemas/types.gen';
import { sleep, systemClock, type CachedObject, type Clock, type Runnable } from '../../runtime';
import { jsonEqual } from '../../kube/equal';
import {
  derivedVni, effectiveGateway, effectiveMtu, hostDeviceNames, macFor, networkInterfaces, parseCidr, tapName,
} from '../../kube/networks';
import { Alarm } from '../host/alarm';
import { isHostNetworkError } from '../errors/host-network';
import type { Problem } from '../vm/desired';
import type { FirewallPort, FirewallRule, HostNetworkBackend, HostNetworkSpec, HostNetworkState } from './types';
import type { NetworkSources } from './sources';

type Mode = 'nat' | 'bridge' | 'overlay';

/** A port with the bridge its tap goes on (the backend creates the tap there: the lead's addendum to types.ts). */
type BridgedPort = FirewallPort & { bridge: string };

export interface Capabilities {
  modes: Mode[];
  interfaces: string[];
}

/** One entry of the Host's status.networks. */
export type NetworkReport = NonNullable<HostStatus['networks']>[number];

export interface HostNetworkInput {
  host: string;
  /** this host's underlay IPv4 (the local end of VXLAN); none: no overlay networks here */
  address?: string;
  backend: 'linux' | 'none';
  capabilities: Capabilities;
  /** the VMs bound to this host (deleting ones included: their domains may still hold their taps) */
  vms: readonly CachedObject<VirtualMachineObject>[];
  network(namespace: string, name: string): CachedObject<NetworkObject> | undefined;
  securityGroup(namespace: string, name: string): CachedObject<SecurityGroupObject> | undefined;
  /** every Host (the VXLAN remotes are those that built the same network) */
  hosts: readonly CachedObject<HostObject>[];
}

export interface ComputedHostNetwork {
  state: HostNetworkState;
  /** networks this host cannot build, with why (not in `state`) */
  refused: NetworkReport[];
}

/** The Host's InternalIP (underlay) address, if it reports one. */
export function internalAddress(h: Pick<HostObject, 'status'>): string | undefined {
  return h.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

/** "22" or "8000-8100" → {from, to}; undefined when it is neither. */
export function parsePorts(ports: string): { from: number; to: number } | undefined {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(ports);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from >= 1 && to <= 65535 && from <= to ? { from, to } : undefined;
}

/** The host side of one Network, or why this host cannot build it. */
function hostSpecOf(net: CachedObject<NetworkObject>, key: string, input: HostNetworkInput): HostNetworkSpec | string {
  const uid = net.metadata.uid!;
  const mode: Mode = net.spec.mode ?? 'nat';
  if (!input.capabilities.modes.includes(mode)) {
    return `this host cannot build ${mode} networks (network backend ${input.backend}: ${input.capabilities.modes.join(', ') || 'no modes'})`;
  }
  try {
    parseCidr(net.spec.cidr);
  } catch (err) {
    return (err as Error).message;
  }
  const names = hostDeviceNames(uid);
  const spec: HostNetworkSpec = { uid, key, mode, bridge: names.bridge, cidr: net.spec.cidr, mtu: effectiveMtu(net.spec) };
  if (mode === 'nat') spec.gateway = effectiveGateway(net.spec);
  if (mode === 'overlay') {
    if (!input.address) return 'this host has no underlay address for VXLAN (STRATUS_NETWORK_ADDRESS)';
    const remotes = new Set<string>();
    for (const h of input.hosts) {
      if (h.metadata.name === input.host || !(h.status?.networks ?? []).some((n) => n.uid === uid)) continue;
      const a = internalAddress(h);
      if (a && a !== input.address) remotes.add(a);
    }
    spec.vxlan = { device: names.vxlan, vni: net.spec.vni ?? net.status?.vni ?? derivedVni(uid), local: input.address, remotes: [...remotes].sort() };
  }
  if (mode === 'bridge') {
    const device = net.spec.bridge?.interface;
    if (!device || !input.capabilities.interfaces.includes(device)) {
      return `interface ${device ?? '(none)'} is not an uplink of this host (STRATUS_NETWORK_UPLINKS: ${input.capabilities.interfaces.join(', ') || 'none'})`;
    }
    const vlan = net.spec.bridge?.vlan;
    spec.uplink = { device, ...(vlan !== undefined ? { vlan, vlanDevice: names.vlan } : {}) };
  }
  return spec;
}

/** A security group rule as the firewall's: its peers resolved (a group's members' addresses as /32s); undefined when it has none. */
function ruleOf(r: SecurityGroupRule, namespace: string, input: HostNetworkInput): FirewallRule | undefined {
  const protocol = r.protocol ?? 'any';
  const cidrs = r.cidr
    ? [r.cidr]
    : r.securityGroup
      ? [...new Set(input.securityGroup(namespace, r.securityGroup)?.status?.addresses ?? [])].sort().map((a) => `${a}/32`)
      : [];
  if (cidrs.length === 0) return undefined;
  let ports: { from: number; to: number } | undefined;
  if (r.ports !== undefined && (protocol === 'tcp' || protocol === 'udp')) {
    ports = parsePorts(r.ports);
    if (!ports) return undefined; // the schema forbids it: allow nothing rather than every port
  }
  return { protocol, ...(ports ? { ports } : {}), cidrs };
}

/**
 * The firewall of one VM interface: its security groups' rules (ingress: the union of the groups';
 * egress: 'all' unless a group lists egress rules, then the union of those), or without groups
 * the project default: receive from the network's CIDR (a shared network: from the addresses of
 * the VM's own project, status.members), send anything. The gateway is always allowed.
 */
function portOf(
  vm: CachedObject<VirtualMachineObject>, iface: { index: number; name: string; securityGroups: string[] }, net: CachedObject<NetworkObject>, key: string, bridge: string, input: HostNetworkInput,
): BridgedPort {
  const namespace = vm.metadata.namespace ?? '';
  const uid = vm.metadata.uid ?? '';
  const addr = (vm.status?.addresses ?? []).find((a) => a.name === iface.name && a.network === key);
  let ingress: FirewallRule[] = [];
  let egress: FirewallRule[] | 'all' = 'all';
  if (iface.securityGroups.length === 0) {
    const cidrs = net.spec.shared
      ? [...new Set((net.status?.members ?? []).filter((m) => m.project === namespace).flatMap((m) => m.addresses))].sort().map((a) => `${a}/32`)
      : [net.spec.cidr];
    if (cidrs.length > 0) ingress.push({ protocol: 'any', cidrs });
  } else {
    const restricted: FirewallRule[] = [];
    let restricts = false;
    for (const name of iface.securityGroups) {
      // A group that does not exist (yet) allows nothing.
      const sg = input.securityGroup(namespace, name);
      for (const r of sg?.spec.ingress ?? []) {
        const f = ruleOf(r, namespace, input);
        if (f) ingress.push(f);
      }
      if (sg?.spec.egress !== undefined) {
        restricts = true;
        for (const r of sg.spec.egress) {
          const f = ruleOf(r, namespace, input);
          if (f) restricted.push(f);
        }
      }
    }
    if (restricts) egress = restricted;
  }
  const gateway = effectiveGateway(net.spec);
  if (gateway) {
    const gw: FirewallRule = { protocol: 'any', cidrs: [`${gateway}/32`] };
    ingress = [gw, ...ingress];
    if (egress !== 'all') egress = [gw, ...egress];
  }
  return { tap: tapName(uid, iface.index), bridge, mac: macFor(uid, iface.index), ...(addr ? { address: addr.ipAddress } : {}), ingress, egress };
}

/** What this host should build for the VMs bound to it. Pure. */
export function computeHostNetwork(input: HostNetworkInput): ComputedHostNetwork {
  const specs = new Map<string, HostNetworkSpec>();
  const refused = new Map<string, NetworkReport>();
  const ports = new Map<string, BridgedPort>();
  for (const vm of input.vms) {
    for (const iface of networkInterfaces(vm.metadata.namespace ?? '', vm.spec)) {
      const net = input.network(iface.ref.namespace, iface.ref.name);
      const uid = net?.metadata.uid;
      if (!net || !uid) continue; // the VM waits (NetworkNotFound): nothing to build
      const key = `${iface.ref.namespace}/${iface.ref.name}`;
      if (!specs.has(uid) && !refused.has(uid)) {
        const s = hostSpecOf(net, key, input);
        if (typeof s === 'string') refused.set(uid, { network: key, uid, mode: net.spec.mode ?? 'nat', ready: false, message: s });
        else specs.set(uid, s);
      }
      if (!specs.has(uid)) continue;
      const port = portOf(vm, iface, net, key, specs.get(uid)!.bridge, input);
      ports.set(port.tap, port);
    }
  }
  return {
    state: {
      networks: [...specs.values()].sort((a, b) => a.key.localeCompare(b.key) || a.uid.localeCompare(b.uid)),
      ports: [...ports.values()].sort((a, b) => a.tap.localeCompare(b.tap)),
    },
    refused: [...refused.values()].sort((a, b) => a.network.localeCompare(b.network)),
  };
}

/** The Host's status.networks after an apply of `computed`: `failure` is what apply() threw, if it did. */
export function reportOf(computed: ComputedHostNetwork, failure?: unknown): NetworkReport[] {
  const perNetwork = new Map<string, string[]>();
  const hostWide: string[] = [];
  if (failure !== undefined) {
    if (isHostNetworkError(failure)) {
      for (const f of failure.failures) {
        if (f.network) perNetwork.set(f.network, [...(perNetwork.get(f.network) ?? []), f.message]);
        else hostWide.push(f.message);
      }
    } else {
      hostWide.push(failure instanceof Error ? failure.message : String(failure));
    }
  }
  const built = computed.state.networks.map((n): NetworkReport => {
    const why = [...(perNetwork.get(n.key) ?? []), ...hostWide];
    return { network: n.key, uid: n.uid, mode: n.mode, ready: why.length === 0, ...(why.length > 0 ? { message: why.join('; ') } : {}) };
  });
  return [...built, ...computed.refused].sort((a, b) => a.network.localeCompare(b.network) || a.uid.localeCompare(b.uid));
}

export interface HostNetworkControllerOptions {
  host: string;
  backend: HostNetworkBackend;
  sources: NetworkSources;
  /** the VMs bound to this host */
  vms: () => readonly CachedObject<VirtualMachineObject>[];
  /** resolves true once the VM cache is synced (false: stopped first) */
  vmsSynced: (signal: AbortSignal) => Promise<boolean>;
  /** this host's underlay IPv4, or how to find it (once, at start) */
  address?: string | (() => Promise<string | undefined>);
  /** a change is applied after this quiet time, so a burst of changes makes one apply; default 100 ms */
  debounceMs?: number;
  /** everything is applied again this often, changed or not (repairs); default 60 000 ms */
  repairMs?: number;
  /** how long ensure() waits for an apply; default 10 000 ms */
  ensureTimeoutMs?: number;
  /** called after an apply whose outcome (status.networks) differs from the last one's */
  onReport?: (networks: NetworkReport[]) => void;
  clock?: Clock;
  logger?: Logger;
}

export class HostNetworkController implements Runnable {
  readonly name = 'host-network';
  readonly backend: HostNetworkBackend;
  private readonly clock: Clock;
  private readonly alarm: Alarm;
  private caps?: Capabilities;
  private addr?: string;
  private started = false;
  private dirty = true;
  /** the state of the last apply (built, except what its report says failed) */
  private applied?: HostNetworkState;
  private last?: { state: HostNetworkState; refused: NetworkReport[]; report: NetworkReport[] };
  private failures = 0;
  private retryAt = Infinity;
  /** apply requests: each waiter resolves once an apply that started after its request ended */
  private requested = 0;
  private completed = 0;
  private waiters: { seq: number; resolve: () => void }[] = [];

  constructor(private readonly o: HostNetworkControllerOptions) {
    this.backend = o.backend;
    this.clock = o.clock ?? systemClock;
    this.alarm = new Alarm(this.clock);
  }

  /** Apply again soon (something it depends on changed). */
  schedule(): number {
    this.dirty = true;
    this.alarm.wake();
    return ++this.requested;
  }

  /** Whether a change can matter to this host: it builds something, or a VM bound here is on a Network. */
  concerned(): boolean {
    return (this.last?.state.networks.length ?? 0) > 0 || (this.last?.refused.length ?? 0) > 0 || this.o.vms().some((vm) => (vm.spec.networks ?? []).some((n) => n.network));
  }

  /** What the backend can build (known once started). */
  capabilities(): Capabilities | undefined {
    return this.caps;
  }

  /** This host's underlay address (known once started). */
  get address(): string | undefined {
    return this.addr;
  }

  /** status.networks as of the last apply (undefined before the first). */
  report(): NetworkReport[] | undefined {
    return this.last?.report;
  }

  /** The state of the last apply (what failed of it is in report()). */
  lastApplied(): HostNetworkState | undefined {
    return this.applied;
  }

  /**
   * Resolves once the host side of `vm`'s networks is applied (bridges, VXLAN, its firewall
   * ports): undefined, or a Problem saying why the VM must wait.
   */
  async ensure(vm: Pick<VirtualMachineObject, 'metadata' | 'spec'>): Promise<Problem | undefined> {
    const ifaces = networkInterfaces(vm.metadata.namespace ?? '', vm.spec);
    if (ifaces.length === 0) return undefined;
    let verdict = this.check(vm, ifaces);
    if (verdict !== 'pending') return verdict;
    await this.waitApplied(this.schedule(), this.o.ensureTimeoutMs ?? 10_000);
    verdict = this.check(vm, ifaces);
    if (verdict !== 'pending') return verdict;
    return { reason: 'NetworkPending', message: `the host side of the VM's networks is not built on host ${this.o.host} yet`, terminal: false };
  }

  private check(vm: Pick<VirtualMachineObject, 'metadata' | 'spec'>, ifaces: ReturnType<typeof networkInterfaces>): Problem | undefined | 'pending' {
    const uid = vm.metadata.uid ?? '';
    for (const i of ifaces) {
      const key = `${i.ref.namespace}/${i.ref.name}`;
      const net = this.o.sources.network(i.ref.namespace, i.ref.name);
      if (!net?.metadata.uid) return { reason: 'NetworkNotFound', message: `interface ${i.name}: Network ${key} not found`, terminal: false };
      const rep = this.last?.report.find((r) => r.uid === net.metadata.uid);
      if (!rep) return 'pending';
      if (!rep.ready) return { reason: 'NetworkNotReady', message: `interface ${i.name}: Network ${key} is not ready on host ${this.o.host}: ${rep.message ?? 'not built'}`, terminal: false };
      if (!this.applied?.ports.some((p) => p.tap === tapName(uid, i.index))) return 'pending';
    }
    return undefined;
  }

  private waitApplied(seq: number, timeoutMs: number): Promise<void> {
    if (this.completed >= seq) return Promise.resolve();
    const clock = this.clock;
    return new Promise((resolve) => {
      const timer = clock.setTimeout(done, timeoutMs);
      this.waiters.push({ seq, resolve: done });
      function done() {
        clock.clearTimeout(timer);
        resolve();
      }
    });
  }

  private inputOf(): HostNetworkInput {
    const s = this.o.sources;
    return {
      host: this.o.host, address: this.addr, backend: this.backend.name, capabilities: this.caps ?? { modes: [], interfaces: [] },
      vms: this.o.vms(), network: (ns, n) => s.network(ns, n), securityGroup: (ns, n) => s.securityGroup(ns, n), hosts: s.allHosts(),
    };
  }

  /** Computes the state and applies it (unless unchanged since the last successful apply and not `force`). */
  async runOnce(force = false): Promise<void> {
    const seq = this.requested;
    this.dirty = false;
    if (!this.caps || force) await this.readCapabilities();
    const computed = computeHostNetwork(this.inputOf());
    let failure: unknown;
    if (force || this.failures > 0 || !this.applied || !jsonEqual(computed.state, this.applied)) {
      try {
        await this.backend.apply(computed.state);
        this.applied = computed.state;
        this.failures = 0;
        this.retryAt = Infinity;
      } catch (err) {
        failure = err;
        // A HostNetworkError says what failed; the rest was built (its VMs may start).
        this.applied = isHostNetworkError(err) ? computed.state : undefined;
        this.failures++;
        // Retried with backoff (1 s doubling to 30 s), sooner than the repair period.
        this.retryAt = this.clock.now() + Math.min(30_000, 1000 * 2 ** (this.failures - 1));
        this.o.logger?.warn({ err: String(err) }, 'applying the host networks failed; retrying');
      }
    }
    const report = reportOf(computed, failure);
    const changed = !jsonEqual(report, this.last?.report);
    this.last = { state: computed.state, refused: computed.refused, report };
    this.completed = Math.max(this.completed, seq);
    const ready = this.waiters.filter((w) => w.seq <= this.completed);
    this.waiters = this.waiters.filter((w) => w.seq > this.completed);
    for (const w of ready) w.resolve();
    if (changed) this.o.onReport?.(report);
  }

  private async readCapabilities(): Promise<void> {
    try {
      this.caps = await this.backend.capabilities();
    } catch (err) {
      this.o.logger?.warn({ err: String(err) }, 'reading what the network backend can build failed');
      this.caps ??= { modes: [], interfaces: [] };
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    const a = this.o.address;
    this.addr = typeof a === 'function' ? await a().catch(() => undefined) : a;
    if (!(await this.o.vmsSynced(signal)) || !(await this.o.sources.waitForSync(signal))) return;
    this.started = true;
    const repairMs = this.o.repairMs ?? 60_000;
    const debounceMs = this.o.debounceMs ?? 100;
    let repairAt = this.clock.now();
    try {
      while (!signal.aborted) {
        const now = this.clock.now();
        const force = now >= repairAt;
        if (force || this.dirty || now >= this.retryAt) {
          if (force) repairAt = now + repairMs;
          await this.runOnce(force).catch((err: unknown) => {
            // never expected (apply failures are handled inside): retry later rather than stop the host
            this.o.logger?.error({ err: String(err) }, 'computing the host networks failed');
            this.retryAt = this.clock.now() + 5000;
          });
          continue;
        }
        await this.alarm.nap(Math.max(0, Math.min(repairAt, this.retryAt) - now), signal);
        // Changes come in bursts (a VM and its addresses, a group and its members): one apply for all.
        if (this.dirty && debounceMs > 0) await sleep(this.clock, debounceMs, signal);
      }
    } finally {
      this.started = false;
      for (const w of this.waiters.splice(0)) w.resolve();
    }
  }

  notReady(): string | undefined {
    return this.started ? undefined : 'host networks not applied yet';
  }
}
