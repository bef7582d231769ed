/**
 * Decoding of the arrays libvirt's virConnectListAll* / virStoragePoolListAllVolumes return.
 * Owns: reading the array of object pointers and freeing the array itself (not its objects).
 */
import { libvirt } from './ffi';
import type { CallResult } from './executor';

/**
 * For a list call made with `[null]` as its out-parameter (outs[0]) and the count as result:
 * the object pointers, each a reference the caller now owns. The array is freed here.
 */
export function decodePointerArray(r: CallResult): bigint[] {
  const { koffi } = libvirt();
  const n = r.result as number;
  const array = (r.outs[0] as Array<bigint | null>)[0];
  if (array === null) return [];
  try {
    return n > 0 ? (koffi.decode(array, 'void *', n) as bigint[]) : [];
  } finally {
    koffi.free(array);
  }
}
