/** Pure builders of libvirt domain and volume XML, and their read-back. */
export * from './types';
export * from './xml';
export { buildCompute } from './compute';
export { buildBoot } from './boot';
export { buildDisks, diskTargets, deviceName } from './disks';
export { buildNetwork, buildQemuCommandline, isUserNet, macFor, userNetArgs, GUEST_SSH_PORT, QEMU_NS, USER_NETDEV } from './network';
export { buildGuestAgentChannel, GUEST_AGENT_CHANNEL } from './channel';
export { buildSeedFiles, seedHash, type SeedFiles, type SeedInput, type SeedNic } from './seed';
export { buildConsole } from './console';
export { buildMetadata, parseOwner, OWNER_NS, OWNER_PREFIX } from './metadata';
export { buildRequestsMark, parseRequestsMark, REQUESTS_NS, REQUESTS_PREFIX, MARKED_REQUESTS } from './requests-mark';
export { buildDomainXml } from './domain';
export { buildVolumeXml, type VolumeSpec } from './volume';
export { fingerprintOf, fingerprintDiff, type DomainFingerprint } from './fingerprint';
