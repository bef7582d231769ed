// Equality of JSON values, the one rule every part uses to decide "nothing changed" (a status
// write, a spec that bumps the generation, `apply` reporting unchanged, managed fields).

/**
 * Whether `a` and `b` are the same JSON document: object key order does not matter, array order
 * does, an object property holding `undefined` counts as absent, and `undefined` elsewhere (at the
 * top level or in an array) counts as `null`, as `JSON.stringify` writes them. Own enumerable
 * properties only, so a key such as `__proto__` is plain data.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined) return b === null;
  if (b === undefined) return a === null;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const kx = Object.keys(x).filter((k) => x[k] !== undefined);
  const ky = Object.keys(y).filter((k) => y[k] !== undefined);
  if (kx.length !== ky.length) return false;
  return kx.every((k) => Object.prototype.hasOwnProperty.call(y, k) && jsonEqual(x[k], y[k]));
}
