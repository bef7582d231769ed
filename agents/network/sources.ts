/**
 * NetworkSources: the Networks, SecurityGroups and Hosts an agent process needs to build the host
 * side of its VMs' networks, as ONE informer per kind for the whole process (hollow hosts
 * included), shared by every host's HostNetworkController. Each host is told of the changes
 * that can alter what it builds.
 *
 * Cost: every agent caches every Network, SecurityGroup and Host of the cluster. Only changes
 * that alter what a host builds are passed on: a Host's heartbeat (every few seconds, on every
 * host), a Network's address counts (with every VM) or a group's member count are filtered out
 * here; a Host's underlay address or built networks, a Network's spec, VNI or members, a group's
 * rules or member addresses wake the controllers. With ~1000 hosts, a shared Host
 * index by network uid (or a narrower feed) would be the next step; for now the per-agent cache
 * of 1000 Hosts is a few MB.
 */
import type { Logger } from 'pino';
import type { HostObject, NetworkObject, SecurityGroupObject } from '../../store';
import { Informer, type CachedObject, type Clock, type ObjectSource } from '../../runtime';
import { jsonEqual } from '../../kube/equal';

export type NetworkSourceKind = 'Network' | 'SecurityGroup' | 'Host';

type Watched = CachedObject<NetworkObject | SecurityGroupObject | HostObject>;

/** Called with the kind, the object as it is now (or was last, when deleted) and, on an update, as it was before. */
export type NetworkChangeHandler = (kind: NetworkSourceKind, obj: Watched, before?: Watched) => void;

export interface NetworkSourcesOptions {
  store: ObjectSource;
  logger?: Logger;
  clock?: Clock;
  /** change-feed poll period; default 250 ms */
  pollIntervalMs?: number;
  /** full re-list period; default 300 000 ms */
  relistPeriodMs?: number;
}

/** What of a Host matters to the other hosts' networks: its underlay address and the networks it built. */
function hostNetworking(h: CachedObject<HostObject>): unknown {
  return [h.status?.addresses ?? null, h.status?.networks ?? null];
}

/** What of a Network the hosts build from: not its address counts, which change with every VM. */
function networkShape(n: CachedObject<NetworkObject>): unknown {
  return [n.metadata.uid, n.spec, n.status?.vni ?? null, n.status?.members ?? null];
}

/** What of a SecurityGroup the firewalls use: its rules and its members' addresses. */
function groupShape(g: CachedObject<SecurityGroupObject>): unknown {
  return [g.metadata.uid, g.spec, g.status?.addresses ?? null];
}

export class NetworkSources {
  readonly networks: Informer<NetworkObject>;
  readonly securityGroups: Informer<SecurityGroupObject>;
  readonly hosts: Informer<HostObject>;
  private readonly handlers = new Set<NetworkChangeHandler>();

  constructor(o: NetworkSourcesOptions) {
    const common = { store: o.store, pollIntervalMs: o.pollIntervalMs ?? 250, resyncPeriodMs: o.relistPeriodMs ?? 300_000, clock: o.clock, logger: o.logger };
    this.networks = new Informer<NetworkObject>({ ...common, kind: 'Network' });
    this.securityGroups = new Informer<SecurityGroupObject>({ ...common, kind: 'SecurityGroup' });
    this.hosts = new Informer<HostObject>({ ...common, kind: 'Host' });
    const notify = (kind: NetworkSourceKind, obj: Watched, before?: Watched) => {
      for (const h of this.handlers) h(kind, obj, before);
    };
    this.networks.addHandlers({
      onAdd: (_k, x) => notify('Network', x),
      onUpdate: (_k, before, x) => {
        if (!jsonEqual(networkShape(before), networkShape(x))) notify('Network', x, before);
      },
      onDelete: (_k, x) => notify('Network', x),
    });
    this.securityGroups.addHandlers({
      onAdd: (_k, x) => notify('SecurityGroup', x),
      onUpdate: (_k, before, x) => {
        if (!jsonEqual(groupShape(before), groupShape(x))) notify('SecurityGroup', x, before);
      },
      onDelete: (_k, x) => notify('SecurityGroup', x),
    });
    this.hosts.addHandlers({
      onAdd: (_k, x) => notify('Host', x),
      onUpdate: (_k, before, x) => {
        if (!jsonEqual(hostNetworking(before), hostNetworking(x))) notify('Host', x, before);
      },
      onDelete: (_k, x) => notify('Host', x),
    });
  }

  /** Calls `handler` on every change that matters; returns an unsubscribe. */
  onChange(handler: NetworkChangeHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  network(namespace: string, name: string): CachedObject<NetworkObject> | undefined {
    return this.networks.get(`${namespace}/${name}`);
  }

  securityGroup(namespace: string, name: string): CachedObject<SecurityGroupObject> | undefined {
    return this.securityGroups.get(`${namespace}/${name}`);
  }

  allHosts(): CachedObject<HostObject>[] {
    return this.hosts.list();
  }

  async waitForSync(signal: AbortSignal): Promise<boolean> {
    const r = await Promise.all([this.networks.waitForSync(signal), this.securityGroups.waitForSync(signal), this.hosts.waitForSync(signal)]);
    return r.every(Boolean);
  }

  hasSynced(): boolean {
    return this.networks.hasSynced() && this.securityGroups.hasSynced() && this.hosts.hasSynced();
  }

  readonly name = 'network-sources';

  async start(signal: AbortSignal): Promise<void> {
    await Promise.all([this.networks.start(signal), this.securityGroups.start(signal), this.hosts.start(signal)]);
  }
}
