// Kubernetes quantities ("2Gi", "512Mi", "10G", "100m", "1e3"): parsing to numbers and formatting back.
// The one parser of validation (the x-stratus-quantity keyword), placement, quota and the agents; syntax as common.json.

import { ErrorCode } from '../errors';

/**
 * The largest quantity accepted: 2^53 ("8Pi", 9007199254740992), the largest power of two below
 * which every whole number of bytes is exact in the arithmetic of placement and quota (doubles).
 * Kubernetes caps a Quantity at 2^63-1; Stratus refuses what is larger instead of capping it.
 */
export const MAX_QUANTITY = 2 ** 53;
/** MAX_QUANTITY as people read it. */
export const MAX_QUANTITY_TEXT = '8Pi';

/** Thrown for a string or number that is not a non-negative Kubernetes quantity, or is above MAX_QUANTITY. */
export class QuantityError extends Error {
  readonly code = ErrorCode.InvalidQuantity;
  readonly input: unknown;
  /** true: well formed, but larger than MAX_QUANTITY (or than a number can hold) */
  readonly tooLarge: boolean;

  constructor(input: unknown, reason = 'is not a quantity (e.g. 2Gi, 512Mi, 10G, 100m) or a non-negative number', tooLarge = false) {
    super(`${JSON.stringify(input) ?? String(input)} ${reason}`);
    this.name = 'QuantityError';
    this.input = input;
    this.tooLarge = tooLarge;
  }
}

/** Why a well-formed quantity is refused, in the words of a field error. */
export const TOO_LARGE_REASON = `must be less than or equal to ${MAX_QUANTITY_TEXT} (${MAX_QUANTITY})`;

function tooLarge(q: unknown): QuantityError {
  return new QuantityError(q, `is too large: ${TOO_LARGE_REASON}`, true);
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
 * "10G" = 1e10), vCPUs for cpu ("100m" = 0.1, "2" = 2). Numbers are taken as they are. Always
 * finite, between 0 and MAX_QUANTITY: an exponent that overflows ("1e1000", "1e309") or any
 * value above 8Pi is refused (QuantityError with `tooLarge`), never read as Infinity or capped.
 * @throws QuantityError for anything else, including negative values.
 */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (Number.isNaN(q) || q < 0) throw new QuantityError(q);
    if (q > MAX_QUANTITY) throw tooLarge(q);
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
    result = Number(`${m[1]}${suffix}`); // decimal exponent, e.g. 1e3; "1e1000" is Infinity
  }
  // Infinity (an overflowing exponent or mantissa) and anything above the maximum; NaN cannot
  // come out of the syntax above, but is refused the same way should it ever. Near the maximum
  // a double rounds ("9007199254740993" reads as 2^53), so there the decimal text decides.
  if (!(result <= MAX_QUANTITY) || (result >= 2 ** 52 && exceedsMax(m[1], suffix))) throw tooLarge(q);
  return result;
}

const DECIMAL_POWER: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const MAX_BIG = BigInt(MAX_QUANTITY);

/**
 * Whether number x suffix is above MAX_QUANTITY, exactly (integer arithmetic on the decimal text).
 * Called only for values whose double is near the maximum, so the exponent is small; digits past
 * the 40th significant one only tell whether the value is a little more than the first 40 say.
 */
function exceedsMax(num: string, suffix: string): boolean {
  const [int, frac = ''] = num.split('.');
  let digits = `${int}${frac}`.replace(/^0+/, '');
  let pow10 = -frac.length;
  const trailing = /0*$/.exec(digits)![0].length;
  digits = digits.slice(0, digits.length - trailing);
  pow10 += trailing;
  let sticky = false;
  if (digits.length > 40) {
    sticky = /[1-9]/.test(digits.slice(40));
    pow10 += digits.length - 40;
    digits = digits.slice(0, 40);
  }
  let mult = 1n;
  if (suffix in BINARY) mult = BigInt(BINARY[suffix]);
  else if (suffix in DECIMAL_POWER) pow10 += DECIMAL_POWER[suffix];
  else pow10 += Number(suffix.slice(1));
  const value = BigInt(digits || '0') * mult;
  const [left, right] = pow10 >= 0 ? [value * 10n ** BigInt(pow10), MAX_BIG] : [value, MAX_BIG * 10n ** BigInt(-pow10)];
  return left > right || (left === right && sticky);
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
  // Exact integer arithmetic: a sum above 2^53 (several VMs of the maximum size) still formats as
  // digits and a suffix, never as "1e+26Ei".
  const bytes = BigInt(Math.ceil(n));
  if (bytes === 0n) return '0';
  for (const [suffix, factor] of BINARY_DESCENDING) {
    const f = BigInt(factor);
    if (bytes % f === 0n) return `${bytes / f}${suffix}`;
  }
  return bytes.toString();
}

/**
 * A number of vCPUs in the canonical Kubernetes form: whole numbers as they are (2 → "2"),
 * fractions in millicores, rounded up (0.1 → "100m", 1.5 → "1500m").
 * @throws QuantityError for negative or non-finite numbers.
 */
export function formatCpu(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new QuantityError(n, 'is not a non-negative number of vCPUs');
  if (Number.isInteger(n)) return BigInt(n).toString(); // digits, never "1e+21"
  // Round away float noise before rounding up: 0.1 * 3 is 0.30000000000000004, i.e. 300m.
  const milli = Math.ceil(Math.round(n * 1e6) / 1e3);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
