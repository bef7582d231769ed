/**
 * Stratus's own libvirt binding (koffi over libvirt.so.0): the public API.
 * Blocking calls run on worker threads (LibvirtExecutor); events come from libvirt's default
 * event loop, pumped off the main thread while someone listens.
 */
export { LibvirtConnection, defaultExecutor } from './connection';
export type { NodeInfo, LibvirtConnectionOptions, Unsubscribe } from './connection';
export { Domain } from './domain';
export type {
  BlockStats,
  DomainInfo,
  DomainState,
  InterfaceStats,
  MetadataOptions,
  UndefineOptions,
} from './domain';
export { StoragePool, StorageVolume } from './storage';
export type { StoragePoolInfo, StorageVolumeInfo } from './storage';
export { LibvirtExecutor } from './executor';
export type { LibvirtExecutorOptions } from './executor';
export { LibvirtError, isLibvirtError, errorCodeName, errorNumberOf, mayMeanConnectionLost } from './errors';
export type { LibvirtErrorCode, LibvirtErrorDomain } from './errors';
export type { DomainStatsRecord, TypedValue } from './stats';
export type { DomainInterface, DomainIpAddress } from './addresses';
export type { DomainLifecycleListener } from './events';
export { eventLoopRunning } from './events';
export { libvirtVersion, LIBVIRT_SONAME } from './ffi';
export type {
  Affect,
  DomainEventName,
  DomainLifecycleEvent,
  DomainListFilter,
  DomainStateName,
  DomainStatsType,
  InterfaceAddressSource,
  MetadataType,
  StoragePoolStateName,
  StorageVolTypeName,
} from './constants';
export {
  RESERVED_VOLUME_NAME,
  TEST_DRIVER_POOL_CAPACITY,
  testHostUri,
  testHostXml,
  writeTestHost,
} from './testhost';
export type { TestHostOptions, TestPoolOptions } from './testhost';
