/**
 * Decoding of libvirt's virTypedParameter arrays and virDomainStatsRecord lists into plain objects.
 * Owns: reading those C structures from memory (they are freed by the caller afterwards).
 */
import { libvirt } from './ffi';

/** sizeof(virTypedParameter) on LP64: char field[80]; int type; (pad) union value (8 bytes). */
const PARAM_SIZE = 96;
const FIELD_LENGTH = 80;
const TYPE_OFFSET = 80;
const VALUE_OFFSET = 88;

export type TypedValue = number | boolean | string;

/**
 * Decodes `n` typed parameters at `ptr` into { field: value }. 64-bit integers become numbers
 * (exact up to 2^53: byte and nanosecond counters stay exact for any realistic VM).
 */
export function decodeTypedParams(ptr: bigint, n: number): Record<string, TypedValue> {
  const { koffi } = libvirt();
  const out: Record<string, TypedValue> = {};
  for (let i = 0; i < n; i++) {
    const base = i * PARAM_SIZE;
    const field = koffi.decode(ptr, base, 'char', FIELD_LENGTH) as string;
    const type = koffi.decode(ptr, base + TYPE_OFFSET, 'int') as number;
    const at = base + VALUE_OFFSET;
    switch (type) {
      case 1:
        out[field] = koffi.decode(ptr, at, 'int') as number;
        break;
      case 2:
        out[field] = koffi.decode(ptr, at, 'unsigned int') as number;
        break;
      case 3:
        out[field] = Number(koffi.decode(ptr, at, 'long long'));
        break;
      case 4:
        out[field] = Number(koffi.decode(ptr, at, 'unsigned long long'));
        break;
      case 5:
        out[field] = koffi.decode(ptr, at, 'double') as number;
        break;
      case 6:
        out[field] = (koffi.decode(ptr, at, 'char') as number) !== 0;
        break;
      case 7:
        out[field] = koffi.decode(ptr, at, 'const char *') as string;
        break;
      default:
        break; // a type newer than this binding: skipped rather than misread
    }
  }
  return out;
}

/** One domain's statistics, keyed as libvirt names them, e.g. 'state.state', 'net.0.rx.bytes'. */
export interface DomainStatsRecord {
  name: string;
  uuid: string;
  stats: Record<string, TypedValue>;
}

/** Decodes the `n` records of a virDomainStatsRecordPtr array (NULL-terminated, caller frees). */
export function decodeStatsRecords(list: bigint, n: number): DomainStatsRecord[] {
  const { koffi, fn } = libvirt();
  const uuidBuf = Buffer.alloc(37);
  const pointers = n > 0 ? (koffi.decode(list, 'void *', n) as bigint[]) : [];
  return pointers.map((recordPtr) => {
    const record = koffi.decode(recordPtr, 'virDomainStatsRecord') as { dom: bigint; params: bigint | null; nparams: number };
    fn.virDomainGetUUIDString(record.dom, uuidBuf);
    return {
      name: fn.virDomainGetName(record.dom) as string,
      uuid: uuidBuf.toString('latin1', 0, 36),
      stats: record.params === null ? {} : decodeTypedParams(record.params, record.nparams),
    };
  });
}
