// Kubernetes quantities ("2Gi", "512Mi", "10G", "100m", "1e3"): parsing to numbers and formatting back.
// Used by placement, quota admission and the agents; the accepted syntax is the `quantity` pattern of common.json.

import { ErrorCode } from '../errors';

/** Thrown for a string or number that is not a non-negative Kubernetes quantity. */
export class QuantityError extends Error {
  readonly code = ErrorCode.InvalidQuantity;
  readonly input: unknown;

  constructor(input: unknown, reason = 'is not a quantity (e.g. 2Gi, 512Mi, 10G, 100m) or a non-negative number') {
    super(`${JSON.stringify(input) ?? String(input)} ${reason}`);
    this.name = 'QuantityError';
    this.input = input;
  }
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The same syntax as common.json#/definitions/quantity, with the number and suffix captured. */
const QUANTITY = /^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$/;

/**
 * The value of a quantity as a plain number: bytes for memory and storage ("2Gi" = 2147483648,
 * "10G" = 1e10), vCPUs for cpu ("100m" = 0.1, "2" = 2). Numbers are taken as they are.
 * @throws QuantityError for anything else, including negative values.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw new QuantityError(q);
    return q;
  }
  if (typeof q !== 'string') throw new QuantityError(q);
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new QuantityError(q);
  const value = Number(m[1]);
  const suffix = m[2] ?? '';
  let result: number;
  if (suffix in BINARY) {
    result = value * BINARY[suffix];
  } else if (suffix in DECIMAL) {
    // Divide for the sub-unit suffixes: 100 / 1000 is exactly 0.1, 100 * 0.001 is not.
    const factor = DECIMAL[suffix];
    result = factor < 1 ? value / Math.round(1 / factor) : value * factor;
  } else {
    result = Number(`${m[1]}${suffix}`); // decimal exponent, e.g. 1e3
  }
  if (!Number.isFinite(result)) throw new QuantityError(q, 'is too large');
  return result;
}

/** Whether `q` is a valid quantity. */
export function isQuantity(q: unknown): q is string | number {
  if (typeof q !== 'string' && typeof q !== 'number') return false;
  try {
    parseQuantity(q);
    return true;
  } catch {
    return false;
  }
}

const BINARY_DESCENDING = Object.entries(BINARY).reverse();

/**
 * A byte count in the canonical Kubernetes form: the largest binary suffix that divides it
 * exactly (2147483648 → "2Gi", 1610612736 → "1536Mi"), else plain bytes ("1000"). Fractions
 * of a byte round up.
 * @throws QuantityError for negative or non-finite numbers.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new QuantityError(n, 'is not a non-negative number of bytes');
  const bytes = Math.ceil(n);
  if (bytes === 0) return '0';
  for (const [suffix, factor] of BINARY_DESCENDING) {
    if (bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}

/**
 * A number of vCPUs in the canonical Kubernetes form: whole numbers as they are (2 → "2"),
 * fractions in millicores, rounded up (0.1 → "100m", 1.5 → "1500m").
 * @throws QuantityError for negative or non-finite numbers.
 */
export function formatCpu(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new QuantityError(n, 'is not a non-negative number of vCPUs');
  if (Number.isInteger(n)) return String(n);
  // Round away float noise before rounding up: 0.1 * 3 is 0.30000000000000004, i.e. 300m.
  const milli = Math.ceil(Math.round(n * 1e6) / 1e3);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
