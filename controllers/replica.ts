// One controller replica: the shared informers (Hosts, HostAllocations, VMs, Networks,
// AddressClaims, SecurityGroups), the placement cache and address view, and the controllers
// (scheduler, host health, host removal, host drain, VM lifecycle, VM resize, allocation audit,
// network controller, address release and audit), in a Manager that starts the informers first and stops them last. Used by
// main.ts, tests, bench.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type {
  AddressClaimObject, HostAllocationObject, HostObject, NetworkObject, ObjectStore, SecurityGroupObject, StoredObject, VirtualMachineObject,
} from '../store';
import { AddressClaimAudit, type AddressClaimAuditOptions } from './address-claim-audit';
import { addClaimIndexes, AddressRelease } from './address-release';
import { AddressClaimCache } from './ipam';
import { addNetworkIndexes, NetworkController } from './network';
import { AllocationAudit, type AllocationAuditOptions } from './allocation-audit';
import { HostDrain } from './host-drain';
import { HOST_INDEX, HostHealth, type HostHealthOptions } from './host-health';
import { HostRemoval } from './host-removal';
import { PlacementMetrics } from './metrics';
import type { PlacementInformers } from './placement-deps';
import { ALLOCATION_KIND } from './placement/allocation-record';
import { PlacementCache } from './placement/cache';
import { HostLoadSampler, type HostLoadSamplerOptions } from './placement/load';
import { Informer, Manager, systemClock, type Clock } from '../runtime';
import { Scheduler, type SchedulerOptions } from './scheduler';
import { VmLifecycle } from './vm-lifecycle';
import { VmResize } from './vm-resize';
import type { EventBroadcaster } from '../runtime/events';

type Tuning<T> = Partial<Omit<T, 'store' | 'informers' | 'cache' | 'logger' | 'metrics' | 'clock' | 'identity'>>;

export interface ReplicaOptions {
  store: ObjectStore;
  logger: Logger;
  registry: Registry;
  identity: string;
  clock?: Clock;
  informer?: { pollIntervalMs?: number; resyncPeriodMs?: number };
  scheduler?: Tuning<SchedulerOptions>;
  hostHealth?: Tuning<HostHealthOptions>;
  audit?: Tuning<AllocationAuditOptions>;
  /** the address claim audit (period, grace) */
  addressAudit?: Partial<Pick<AddressClaimAuditOptions, 'periodMs' | 'graceMs'>>;
  lifecycle?: { workers?: number };
  /** read pushed host load samples for the load-aware policy (main.ts passes the monitoring repository) */
  loads?: { samples: HostLoadSamplerOptions['samples']; periodMs?: number };
  /** the manager to register the runnables with (main.ts passes the process's one); default a new one */
  manager?: Manager;
  /**
   * the process's events (main.ts: over store/events.ts): registered before the controllers (so
   * stopped after them); the scheduler reports as stratus-scheduler, the others as stratus-controllers
   */
  events?: EventBroadcaster;
  /** which controllers to run; default all */
  enable?: {
    scheduler?: boolean; hostHealth?: boolean; hostRemoval?: boolean; drain?: boolean; lifecycle?: boolean; audit?: boolean; resize?: boolean;
    /** the network controller (Network and SecurityGroup status, the in-use finalizer) */
    network?: boolean;
    /** release of deleted VMs' addresses */
    addressRelease?: boolean;
    /** the address claim audit (on with `audit` unless set) */
    addressAudit?: boolean;
  };
}

export interface Replica {
  manager: Manager;
  informers: PlacementInformers;
  cache: PlacementCache;
  metrics: PlacementMetrics;
  scheduler?: Scheduler;
  hostHealth?: HostHealth;
  hostRemoval?: HostRemoval;
  drain?: HostDrain;
  lifecycle?: VmLifecycle;
  resize?: VmResize;
  audit?: AllocationAudit;
  /** the AddressClaims this replica knows, with its own claims assumed */
  addresses: AddressClaimCache;
  securityGroups: Informer<SecurityGroupObject>;
  network?: NetworkController;
  addressRelease?: AddressRelease;
  addressAudit?: AddressClaimAudit;
}

export function buildReplica(o: ReplicaOptions): Replica {
  const clock = o.clock ?? systemClock;
  const logger = o.logger.child({ replica: o.identity });
  const metrics = new PlacementMetrics(o.registry);
  const inf = <T extends StoredObject>(kind: string) => new Informer<T>({ store: o.store, kind, clock, logger, ...o.informer });
  const informers: PlacementInformers = {
    hosts: inf<HostObject>('Host'), allocations: inf<HostAllocationObject>(ALLOCATION_KIND), vms: inf<VirtualMachineObject>('VirtualMachine'),
    networks: inf<NetworkObject>('Network'), addressClaims: inf<AddressClaimObject>('AddressClaim'),
  };
  const securityGroups = inf<SecurityGroupObject>('SecurityGroup');
  informers.vms.addIndex(HOST_INDEX, (vm) => (vm.status?.host ? [vm.status.host] : []));
  addClaimIndexes(informers.addressClaims);
  addNetworkIndexes({ ...informers, securityGroups });
  const cache = new PlacementCache(informers);
  const addresses = new AddressClaimCache(informers.addressClaims, { now: () => clock.now() });
  const reporter = (component: string, controller: string) => o.events?.recorder({ component, controller, instance: o.identity });
  const common = { store: o.store, informers, cache, addresses, logger, metrics, clock, events: reporter('stratus-controllers', 'stratuslab.eu/controllers') };
  const on = {
    scheduler: true, hostHealth: true, hostRemoval: true, drain: true, lifecycle: true, resize: true, audit: true, network: true, addressRelease: true,
    ...o.enable,
  };
  const resyncPeriodMs = o.informer?.resyncPeriodMs;
  const r: Replica = { manager: o.manager ?? new Manager({ logger, clock }), informers, cache, metrics, addresses, securityGroups };
  if (o.loads) r.manager.add(new HostLoadSampler({ ...o.loads, logger, clock, onLoads: (m) => cache.setLoads(m) }));
  if (o.events) r.manager.add(o.events, 'events');
  r.manager.add(informers.hosts, 'informer/Host').add(informers.allocations, `informer/${ALLOCATION_KIND}`).add(informers.vms, 'informer/VirtualMachine')
    .add(informers.networks, 'informer/Network').add(informers.addressClaims, 'informer/AddressClaim').add(securityGroups, 'informer/SecurityGroup');
  if (on.scheduler) {
    r.scheduler = new Scheduler({ ...common, events: reporter('stratus-scheduler', 'stratuslab.eu/scheduler'), identity: o.identity, resyncPeriodMs, ...o.scheduler });
  }
  if (on.hostHealth) r.hostHealth = new HostHealth({ ...common, resyncPeriodMs, ...o.hostHealth });
  // the same T_resched as host health: a deleted host's agent must have fenced before its VMs move
  if (on.hostRemoval) r.hostRemoval = new HostRemoval({ ...common, resyncPeriodMs, rescheduleMs: o.hostHealth?.rescheduleMs });
  if (on.drain) r.drain = new HostDrain({ ...common, resyncPeriodMs });
  if (on.lifecycle) r.lifecycle = new VmLifecycle({ ...common, resyncPeriodMs, ...o.lifecycle });
  if (on.resize) r.resize = new VmResize({ ...common, resyncPeriodMs });
  if (on.audit) r.audit = new AllocationAudit({ ...common, ...o.audit });
  if (on.network) r.network = new NetworkController({ ...common, informers: { ...informers, securityGroups }, resyncPeriodMs });
  if (on.addressRelease) r.addressRelease = new AddressRelease({ ...common, resyncPeriodMs });
  if (o.enable?.addressAudit ?? on.audit) r.addressAudit = new AddressClaimAudit({ ...common, ...o.addressAudit });
  for (const c of [r.scheduler, r.hostHealth, r.hostRemoval, r.drain, r.lifecycle, r.resize, r.audit, r.network, r.addressRelease, r.addressAudit]) if (c) r.manager.add(c, c.name);
  return r;
}
