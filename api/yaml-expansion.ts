// How large a parsed YAML body is once its aliases are expanded, measured without expanding them:
// the parser shares one value per anchor, so a 1 MB anchor aliased 19 times is 1 MB in memory but
// 20 MB to every later JSON.stringify, clone and Cassandra write. Linear in the distinct values.

export interface Expansion {
  /** UTF-8 bytes of the value as JSON (escapes not counted); past `limit`, some number above it */
  bytes: number;
  /** an alias refers to a collection that contains it: the value has no JSON form at all */
  cycle: boolean;
}

function scalarBytes(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v) + 2;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v).length;
  return 4; // null
}

/**
 * The JSON size of `value` with every shared object counted each time it is referenced, as
 * JSON.stringify would write it; stops adding once the size passes `limit`. Each distinct object
 * is measured once (the answer is remembered), so an alias bomb costs what its text costs.
 */
export function measureExpansion(value: unknown, limit: number): Expansion {
  const sizes = new Map<object, number>();
  const open = new Set<object>();
  let cycle = false;
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return scalarBytes(v);
    const known = sizes.get(v);
    if (known !== undefined) return known;
    if (open.has(v)) {
      cycle = true;
      return limit + 1;
    }
    open.add(v);
    let n = 2; // [] or {}
    if (Array.isArray(v)) {
      for (const x of v) {
        n += size(x) + 1;
        if (n > limit) break;
      }
    } else {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        n += Buffer.byteLength(k) + 4 + size(x);
        if (n > limit) break;
      }
    }
    open.delete(v);
    sizes.set(v, n);
    return n;
  };
  const bytes = size(value);
  return { bytes, cycle };
}
