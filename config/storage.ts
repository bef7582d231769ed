// The agent's storage settings: which storage pools several hosts share (a netfs pool on NFS),
// so that VM disks there move with their VMs (agents/host/pools.ts). Only config/ reads process.env.

import type { Env } from './env';

export interface StorageConfig {
  /**
   * STRATUS_SHARED_POOLS: comma-separated names of the libvirt storage pools this host shares
   * with others (their identity: the file .stratus-shared-pool in the pool's folder if any, else
   * name:path). Default none. A pool is also shared when that file exists in its folder.
   */
  sharedPools: string[];
}

/** libvirt pool names: no slashes, no spaces, no commas. */
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

export function loadStorageConfig(env: Env = process.env): StorageConfig {
  const raw = env['STRATUS_SHARED_POOLS'] ?? '';
  const sharedPools = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of sharedPools) {
    if (!POOL_NAME.test(p)) throw new Error(`STRATUS_SHARED_POOLS: "${p}" is not a storage pool name (letters, digits, _ . + -; comma-separated)`);
  }
  return { sharedPools: [...new Set(sharedPools)] };
}
