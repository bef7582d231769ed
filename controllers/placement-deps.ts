// What the placement controllers (scheduler, resize, audit, host removal) are built from: the
// store, the informers of the replica, its placement cache, logger, metrics and clock.

import type { Logger } from 'pino';
import type { AddressClaimObject, HostAllocationObject, HostObject, NetworkObject, ObjectStore, VirtualMachineObject } from '../store';
import type { PlacementMetrics } from './metrics';
import type { PlacementCache } from './placement/cache';
import type { AddressClaimCache } from './ipam/cache';
import type { Clock, Informer } from '../runtime';
import type { EventRecorder } from '../runtime/events';

export interface PlacementInformers {
  hosts: Informer<HostObject>;
  allocations: Informer<HostAllocationObject>;
  /** VMs; host removal needs its 'host' index (status.host) */
  vms: Informer<VirtualMachineObject>;
  /** Networks: the scheduler resolves VM interfaces and claims their addresses */
  networks: Informer<NetworkObject>;
  /** AddressClaims: the addresses taken (controllers/ipam/) */
  addressClaims: Informer<AddressClaimObject>;
}

export interface PlacementDeps {
  store: ObjectStore;
  informers: PlacementInformers;
  cache?: PlacementCache;
  /** the replica's view of the AddressClaims (with its own claims assumed) */
  addresses?: AddressClaimCache;
  logger: Logger;
  metrics: PlacementMetrics;
  clock?: Clock;
  /** records what the controller did (core/v1 Events); default nothing */
  events?: EventRecorder;
}
