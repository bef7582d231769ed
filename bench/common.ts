// Shared pieces of the benchmark scripts: latency summaries and closed/open-loop drivers.

export interface LatencySummary {
  count: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

export function summarize(latenciesMs: number[], wallMs: number, errors: number): LatencySummary {
  const s = [...latenciesMs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0);
  return {
    count: s.length,
    perSecond: Math.round((s.length / wallMs) * 1000 * 10) / 10,
    p50ms: Math.round(q(0.5) * 100) / 100,
    p99ms: Math.round(q(0.99) * 100) / 100,
    errors,
  };
}

/** Runs `op(i)` for i in [0, total) with `concurrency` workers; returns latencies. */
export async function closedLoop(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<LatencySummary> {
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const t0 = performance.now();
      try {
        await op(i);
        lat.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  }));
  return summarize(lat, performance.now() - start, errors);
}

/** Offers `rate` operations per second for `seconds`, whatever the latency (open loop). */
export async function openLoop(rate: number, seconds: number, op: (i: number) => Promise<void>): Promise<LatencySummary> {
  const lat: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(op(i).then(() => { lat.push(performance.now() - t0); }, () => { errors++; }));
  }
  await Promise.all(pending);
  return summarize(lat, performance.now() - start, errors);
}

export function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}
