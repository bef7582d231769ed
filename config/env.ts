// Reading typed values from the environment (and the flags that override it), shared by every
// config loader: one integer rule for every STRATUS_* number.

export type Env = Record<string, string | undefined>;

const DIGITS = /^[0-9]+$/;

/**
 * A non-negative integer setting named `name`: `value` (a flag or an environment variable's
 * text), or `def` when it is unset or empty. Strict: decimal digits only (surrounding blanks
 * allowed), no sign, fraction, exponent or hex.
 * @throws Error naming the setting, e.g. `STRATUS_FENCE_MS must be a non-negative integer, got "1.5"`
 */
export function intValue(name: string, value: string | number | undefined, def: number): number {
  if (value === undefined || value === '') return def;
  const n = typeof value === 'number' ? value : DIGITS.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

/** The non-negative integer variable `name` of `env`, or `def` when unset or empty (see intValue). */
export function int(env: Env, name: string, def: number): number {
  return intValue(name, env[name], def);
}
