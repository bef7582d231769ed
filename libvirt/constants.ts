/**
 * libvirt enum values (libvirt 9.0 headers) and their names as this binding exposes them.
 * Owns: state, reason, event and flag tables; pure functions only.
 */

export const DOMAIN_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
] as const;

/** virDomainState: 'shutdown' means "being shut down", 'shutoff' means "not running". */
export type DomainStateName = (typeof DOMAIN_STATES)[number] | 'unknown';

/** Reason names per state (virDomain*Reason), indexed by reason number. */
const STATE_REASONS: Partial<Record<DomainStateName, readonly string[]>> = {
  nostate: ['unknown'],
  running: [
    'unknown',
    'booted',
    'migrated',
    'restored',
    'from_snapshot',
    'unpaused',
    'migration_canceled',
    'save_canceled',
    'wakeup',
    'crashed',
    'postcopy',
    'postcopy_failed',
  ],
  blocked: ['unknown'],
  paused: [
    'unknown',
    'user',
    'migration',
    'save',
    'dump',
    'ioerror',
    'watchdog',
    'from_snapshot',
    'shutting_down',
    'snapshot',
    'crashed',
    'starting_up',
    'postcopy',
    'postcopy_failed',
  ],
  shutdown: ['unknown', 'user'],
  shutoff: ['unknown', 'shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot', 'daemon'],
  crashed: ['unknown', 'panicked'],
  pmsuspended: ['unknown'],
};

export function domainStateName(state: number): DomainStateName {
  return DOMAIN_STATES[state] ?? 'unknown';
}

export function domainReasonName(state: DomainStateName, reason: number): string {
  return STATE_REASONS[state]?.[reason] ?? `reason_${reason}`;
}

/** virDomainEventType, and the detail names for each (virDomainEvent*DetailType). */
const EVENTS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['defined', ['added', 'updated', 'renamed', 'from_snapshot']],
  ['undefined', ['removed', 'renamed']],
  ['started', ['booted', 'migrated', 'restored', 'from_snapshot', 'wakeup']],
  [
    'suspended',
    ['paused', 'migrated', 'ioerror', 'watchdog', 'restored', 'from_snapshot', 'api_error', 'postcopy', 'postcopy_failed'],
  ],
  ['resumed', ['unpaused', 'migrated', 'from_snapshot', 'postcopy', 'postcopy_failed']],
  ['stopped', ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot']],
  ['shutdown', ['finished', 'guest', 'host']],
  ['pmsuspended', ['memory', 'disk']],
  ['crashed', ['panicked', 'crashloaded']],
];

export type DomainEventName =
  | 'defined'
  | 'undefined'
  | 'started'
  | 'suspended'
  | 'resumed'
  | 'stopped'
  | 'shutdown'
  | 'pmsuspended'
  | 'crashed'
  | `event_${number}`;

/** A VIR_DOMAIN_EVENT_ID_LIFECYCLE event: a key to reconcile, not an object to act on. */
export interface DomainLifecycleEvent {
  name: string;
  uuid: string;
  /** e.g. 'started', 'stopped' (virDomainEventType). */
  event: DomainEventName;
  /** e.g. 'booted', 'destroyed' (the event's detail). */
  detail: string;
  eventCode: number;
  detailCode: number;
}

export function domainEventName(event: number, detail: number, name: string, uuid: string): DomainLifecycleEvent {
  const entry = EVENTS[event];
  return {
    name,
    uuid,
    event: (entry?.[0] ?? `event_${event}`) as DomainEventName,
    detail: entry?.[1][detail] ?? `detail_${detail}`,
    eventCode: event,
    detailCode: detail,
  };
}

export const VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0;

export const VIR_DOMAIN_DEFINE_VALIDATE = 1;

export const VIR_DOMAIN_XML_SECURE = 1;
export const VIR_DOMAIN_XML_INACTIVE = 2;
export const VIR_DOMAIN_XML_MIGRATABLE = 8;

export const VIR_DOMAIN_DESTROY_GRACEFUL = 1;
/** virDomainShutdownFlags: the methods a shutdown may use (several: the hypervisor picks in its order, the agent first) */
export const VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN = 1;
export const VIR_DOMAIN_SHUTDOWN_GUEST_AGENT = 2;

export const VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1;
export const VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 2;
export const VIR_DOMAIN_UNDEFINE_NVRAM = 4;
export const VIR_DOMAIN_UNDEFINE_KEEP_NVRAM = 8;
export const VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA = 16;
export const VIR_DOMAIN_UNDEFINE_TPM = 32;
export const VIR_DOMAIN_UNDEFINE_KEEP_TPM = 64;

export type MetadataType = 'description' | 'title' | 'element';
export const METADATA_TYPES: Record<MetadataType, number> = { description: 0, title: 1, element: 2 };

/** virDomainModificationImpact: which definition a change applies to. */
export type Affect = 'current' | 'live' | 'config' | 'both';
export const AFFECT_FLAGS: Record<Affect, number> = { current: 0, live: 1, config: 2, both: 3 };

export const STORAGE_POOL_STATES = ['inactive', 'building', 'running', 'degraded', 'inaccessible'] as const;
export type StoragePoolStateName = (typeof STORAGE_POOL_STATES)[number] | 'unknown';

export const STORAGE_VOL_TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'] as const;
export type StorageVolTypeName = (typeof STORAGE_VOL_TYPES)[number] | 'unknown';

/** virDomainInterfaceAddressesSource: where virDomainInterfaceAddresses reads the addresses. */
export const INTERFACE_ADDRESS_SOURCES = {
  /** the DHCP leases of libvirt's own networks */
  lease: 0,
  /** the qemu guest agent inside the guest */
  agent: 1,
  /** the host's ARP table */
  arp: 2,
} as const;
export type InterfaceAddressSource = keyof typeof INTERFACE_ADDRESS_SOURCES;

/** virDomainStatsTypes, by the group name used in the records' keys. */
export const DOMAIN_STATS_TYPES = {
  state: 1,
  'cpu-total': 2,
  balloon: 4,
  vcpu: 8,
  interface: 16,
  block: 32,
  perf: 64,
  iothread: 128,
  memory: 256,
  dirtyrate: 512,
  vm: 1024,
} as const;
export type DomainStatsType = keyof typeof DOMAIN_STATS_TYPES;

/** virConnectListAllDomainsFlags (also the filter flags of virConnectGetAllDomainStats). */
export interface DomainListFilter {
  active?: boolean;
  persistent?: boolean;
  running?: boolean;
  paused?: boolean;
  shutoff?: boolean;
}

export function domainListFlags(filter: DomainListFilter = {}): number {
  let flags = 0;
  if (filter.active === true) flags |= 1;
  if (filter.active === false) flags |= 2;
  if (filter.persistent === true) flags |= 4;
  if (filter.persistent === false) flags |= 8;
  if (filter.running) flags |= 16;
  if (filter.paused) flags |= 32;
  if (filter.shutoff) flags |= 64;
  return flags;
}
