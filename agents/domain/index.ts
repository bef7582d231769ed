/** Pure builders of libvirt domain and volume XML, and their read-back. */
export * from './types';
export * from './xml';
export { buildCompute } from './compute';
export { buildBoot } from './boot';
export { buildDisks, diskTargets, deviceName } from './disks';
export { buildNetwork, macFor } from './network';
export { buildConsole } from './console';
export { buildMetadata, parseOwner, OWNER_NS, OWNER_PREFIX } from './metadata';
export { buildDomainXml } from './domain';
export { buildVolumeXml, type VolumeSpec } from './volume';
export { fingerprintOf, fingerprintDiff, type DomainFingerprint } from './fingerprint';
