/**
 * StoragePool and StorageVolume: libvirt storage through owned virStoragePoolPtr/virStorageVolPtr.
 * Owns: pool lifecycle and info, volume create/clone/lookup/list/delete/resize and info.
 */
import { libvirt } from './ffi';
import type { LibvirtExecutor } from './executor';
import { errorNumberOf } from './errors';
import { LibvirtHandle } from './handle';
import { STORAGE_POOL_STATES, STORAGE_VOL_TYPES, type StoragePoolStateName, type StorageVolTypeName } from './constants';
import { decodePointerArray } from './lists';

export interface StoragePoolInfo {
  state: StoragePoolStateName;
  capacityBytes: number;
  allocationBytes: number;
  availableBytes: number;
}

export interface StorageVolumeInfo {
  type: StorageVolTypeName;
  capacityBytes: number;
  allocationBytes: number;
}

const VIR_ERR_NO_STORAGE_VOL = errorNumberOf('VIR_ERR_NO_STORAGE_VOL');
const VIR_STORAGE_VOL_RESIZE_SHRINK = 4;

export class StoragePool extends LibvirtHandle {
  readonly name: string;
  readonly uuid: string;

  /** Takes ownership of `ptr`; `connection` is the one it came from. */
  constructor(executor: LibvirtExecutor, ptr: bigint, readonly connection?: LibvirtHandle) {
    super(executor, ptr, 'virStoragePoolFree', connection);
    const { fn } = libvirt();
    this.name = fn.virStoragePoolGetName(ptr) as string;
    const buf = Buffer.alloc(37);
    fn.virStoragePoolGetUUIDString(ptr, buf);
    this.uuid = buf.toString('latin1', 0, 36);
  }

  /** Builds the pool's underlying storage (e.g. creates the directory); not every type needs it. */
  async build(flags = 0): Promise<void> {
    await this.invokeInt('virStoragePoolBuild', [flags]);
  }

  /** Starts (activates) a defined pool. */
  async create(flags = 0): Promise<void> {
    await this.invokeInt('virStoragePoolCreate', [flags]);
  }

  /** Stops the pool (its data stays). */
  async destroy(): Promise<void> {
    await this.invokeInt('virStoragePoolDestroy', []);
  }

  async undefine(): Promise<void> {
    await this.invokeInt('virStoragePoolUndefine', []);
  }

  async refresh(): Promise<void> {
    await this.invokeInt('virStoragePoolRefresh', [0]);
  }

  async isActive(): Promise<boolean> {
    return (await this.invokeInt('virStoragePoolIsActive', [])).result === 1;
  }

  async setAutostart(autostart: boolean): Promise<void> {
    await this.invokeInt('virStoragePoolSetAutostart', [autostart ? 1 : 0]);
  }

  async getInfo(): Promise<StoragePoolInfo> {
    const r = await this.invokeInt('virStoragePoolGetInfo', [{}], { outs: [1] });
    const info = r.outs[0] as { state: number; capacity: number | bigint; allocation: number | bigint; available: number | bigint };
    return {
      state: STORAGE_POOL_STATES[info.state] ?? 'unknown',
      capacityBytes: Number(info.capacity),
      allocationBytes: Number(info.allocation),
      availableBytes: Number(info.available),
    };
  }

  async getXML(): Promise<string> {
    return this.invokeValue<string>('virStoragePoolGetXMLDesc', [0]);
  }

  /** Creates a volume from its XML (virStorageVolCreateXML); the pool must be active. */
  async createVolume(xml: string, flags = 0): Promise<StorageVolume> {
    return new StorageVolume(this.executor, await this.invokeValue<bigint>('virStorageVolCreateXML', [xml, flags]), this.connection);
  }

  /** Creates a volume as a copy of `source` (virStorageVolCreateXMLFrom), e.g. from an image. */
  async createVolumeFrom(xml: string, source: StorageVolume, flags = 0): Promise<StorageVolume> {
    const vol = await source.use((sourcePtr) => this.invokeValue<bigint>('virStorageVolCreateXMLFrom', [xml, sourcePtr, flags]));
    return new StorageVolume(this.executor, vol, this.connection);
  }

  /** The named volume, or undefined if the pool has none by that name. */
  async lookupVolume(name: string): Promise<StorageVolume | undefined> {
    const ptr = await this.invokeLookup<bigint>('virStorageVolLookupByName', [name], VIR_ERR_NO_STORAGE_VOL);
    return ptr === undefined ? undefined : new StorageVolume(this.executor, ptr, this.connection);
  }

  async listVolumes(): Promise<StorageVolume[]> {
    const r = await this.invokeInt('virStoragePoolListAllVolumes', [[null], 0], { outs: [1] });
    return decodePointerArray(r).map((ptr) => new StorageVolume(this.executor, ptr, this.connection));
  }
}

export class StorageVolume extends LibvirtHandle {
  readonly name: string;
  /** libvirt's unique key for the volume (for file volumes, usually its path). */
  readonly key: string;

  /** Takes ownership of `ptr`; `connection` is the one it came from. */
  constructor(executor: LibvirtExecutor, ptr: bigint, connection?: LibvirtHandle) {
    super(executor, ptr, 'virStorageVolFree', connection);
    const { fn } = libvirt();
    this.name = fn.virStorageVolGetName(ptr) as string;
    this.key = fn.virStorageVolGetKey(ptr) as string;
  }

  async getInfo(): Promise<StorageVolumeInfo> {
    const r = await this.invokeInt('virStorageVolGetInfo', [{}], { outs: [1] });
    const info = r.outs[0] as { type: number; capacity: number | bigint; allocation: number | bigint };
    return {
      type: STORAGE_VOL_TYPES[info.type] ?? 'unknown',
      capacityBytes: Number(info.capacity),
      allocationBytes: Number(info.allocation),
    };
  }

  /** The volume's path on the host, as a domain's <disk><source file=...> would use it. */
  async getPath(): Promise<string> {
    return this.invokeValue<string>('virStorageVolGetPath', []);
  }

  async getXML(): Promise<string> {
    return this.invokeValue<string>('virStorageVolGetXMLDesc', [0]);
  }

  /** Deletes the volume's storage. The handle stays valid for free() but names nothing. */
  async delete(flags = 0): Promise<void> {
    await this.invokeInt('virStorageVolDelete', [flags]);
  }

  /** Sets the capacity in bytes; shrinking needs `shrink: true`. */
  async resize(capacityBytes: number, options: { shrink?: boolean } = {}): Promise<void> {
    await this.invokeInt('virStorageVolResize', [BigInt(capacityBytes), options.shrink ? VIR_STORAGE_VOL_RESIZE_SHRINK : 0]);
  }

}
