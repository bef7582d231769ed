/**
 * Node description files for libvirt's test driver: each `test:///ABS/PATH.xml` connection gets
 * its own fresh, isolated fake hypervisor described by the file (hollow hosts for tests, benches).
 * Owns: the pure XML builder and writing the file.
 */
import { writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/** Every test-driver pool has this capacity, whatever its XML says (test_driver.c: defaultPoolCap). */
export const TEST_DRIVER_POOL_CAPACITY = 100 * 1024 ** 3;

/** Name of the volume that takes up the part of the pool beyond the asked-for capacity. */
export const RESERVED_VOLUME_NAME = 'stratus-test-reserved';

export interface TestPoolOptions {
  /** Default 'default'. */
  name?: string;
  /**
   * Usable bytes, at most 100 GiB. The test driver pins every pool's capacity at 100 GiB, so a
   * smaller pool is modelled by a pre-allocated volume (RESERVED_VOLUME_NAME) filling the rest:
   * the pool then reports `availableBytes` = this value (capacityBytes stays 100 GiB), and
   * volume creation beyond it fails as it would on a full pool. Default: 100 GiB, no reserve.
   */
  capacityBytes?: number;
  /** Target path reported for the pool and its volumes (nothing is created). */
  path?: string;
}

export interface TestHostOptions {
  cpus: number;
  memoryKiB: number;
  /** Default 2400. */
  mhz?: number;
  /** Default 'x86_64'. */
  model?: string;
  /** Storage pools (active from the start). Default: one pool named 'default', 100 GiB. */
  pools?: TestPoolOptions[];
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function poolXml(pool: TestPoolOptions): string {
  const name = pool.name ?? 'default';
  const capacity = pool.capacityBytes ?? TEST_DRIVER_POOL_CAPACITY;
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > TEST_DRIVER_POOL_CAPACITY) {
    throw new RangeError(`test-driver pool capacity must be 0..${TEST_DRIVER_POOL_CAPACITY} bytes, got ${capacity}`);
  }
  const reserved = TEST_DRIVER_POOL_CAPACITY - capacity;
  const reserve =
    reserved > 0
      ? `
    <volume>
      <name>${RESERVED_VOLUME_NAME}</name>
      <capacity unit='bytes'>${reserved}</capacity>
      <allocation unit='bytes'>${reserved}</allocation>
    </volume>`
      : '';
  return `
  <pool type='dir'>
    <name>${escapeXml(name)}</name>
    <target>
      <path>${escapeXml(pool.path ?? `/var/lib/stratus/pools/${name}`)}</path>
    </target>${reserve}
  </pool>`;
}

/** The node XML for a test-driver host. The CPU topology is 1 node, 1 socket, `cpus` cores. */
export function testHostXml(options: TestHostOptions): string {
  const { cpus, memoryKiB } = options;
  if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`cpus must be a positive integer, got ${cpus}`);
  if (!Number.isSafeInteger(memoryKiB) || memoryKiB < 1) throw new RangeError(`memoryKiB must be positive, got ${memoryKiB}`);
  const pools = (options.pools ?? [{}]).map(poolXml).join('');
  return `<?xml version='1.0'?>
<node>
  <cpu>
    <mhz>${options.mhz ?? 2400}</mhz>
    <model>${escapeXml(options.model ?? 'x86_64')}</model>
    <active>${cpus}</active>
    <nodes>1</nodes>
    <sockets>1</sockets>
    <cores>${cpus}</cores>
    <threads>1</threads>
  </cpu>
  <memory>${memoryKiB}</memory>${pools}
</node>
`;
}

/** The connection URI for a node file: 'test://' + absolute path (so 'test:///tmp/h.xml'). */
export function testHostUri(path: string): string {
  return `test://${isAbsolute(path) ? path : resolve(path)}`;
}

/** Writes the node file to `path` and returns its connection URI. */
export async function writeTestHost(path: string, options: TestHostOptions): Promise<string> {
  await writeFile(path, testHostXml(options));
  return testHostUri(path);
}
