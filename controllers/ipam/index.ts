// Address management (IPAM) of the scheduler: one AddressClaim per address, claimed by
// compare-and-set, no allocator. claim.ts claims and releases, cache.ts is a replica's view.
export * from './cache';
export * from './claim';
