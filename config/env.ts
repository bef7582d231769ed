// Reading typed values from the environment, shared by every config loader.

export type Env = Record<string, string | undefined>;

/** A non-negative integer variable, or `def` when unset or empty. */
export function int(env: Env, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}
