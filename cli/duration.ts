// Go-style durations for --timeout: 30s, 5m, 1h30m, 500ms (a bare number means seconds).

import { UsageError } from './errors/usage-error';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration; `flag` names the option in errors. */
export function parseDuration(value: string, flag = '--timeout'): number {
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let sign = 1;
  let s = v;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  }
  let pos = 0;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (pos < s.length && (m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = re.lastIndex;
  }
  if (s.length === 0 || pos !== s.length) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: time: invalid duration "${value}"`);
  return Math.round(sign * total);
}
