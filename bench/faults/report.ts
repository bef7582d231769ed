// The fault run's report (issue #14 item 7): JSON for machines, a markdown table for the README.

import fs from 'node:fs';
import path from 'node:path';
import type { ClientStats } from './client';

export interface FailoverTimes {
  vms: number;
  /** VMs that had not run elsewhere when the wait ended */
  notMoved: number;
  p50Ms: number;
  maxMs: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** no invariant broken and every check done */
  ok: boolean;
  acknowledged: number;
  lost: number;
  duplicates: number;
  /** VMs seen running on two hosts in one scan round; null when no agent serves /debug/domains */
  twice: number | null;
  notConverged: number;
  recoverMs?: number;
  failover?: FailoverTimes;
  clients: { requests: number; retries: number; failed: number; errors: Record<string, number> };
  /** share of failed attempts between the fault and the recovery */
  errorRateDuringFault: number;
  notes: string[];
  error?: string;
  durationMs: number;
}

export interface FaultReport {
  startedAt: string;
  durationMs: number;
  settings: Record<string, unknown>;
  scan: { rounds: number; agentsAnswering: string[]; unavailable: Record<string, string> };
  scenarios: ScenarioResult[];
  ok: boolean;
}

/** A result with nothing counted yet (filled in by the scenario). */
export function emptyResult(id: string, title: string): ScenarioResult {
  return {
    id, title, ok: false, acknowledged: 0, lost: 0, duplicates: 0, twice: null, notConverged: 0,
    clients: { requests: 0, retries: 0, failed: 0, errors: {} }, errorRateDuringFault: 0, notes: [], durationMs: 0,
  };
}

export function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export function clientSummary(stats: ClientStats): ScenarioResult['clients'] {
  return { requests: stats.requests, retries: stats.retries, failed: stats.failed, errors: stats.errors() };
}

const sec = (ms?: number) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);

/** The markdown table of a report (one row per scenario). */
export function markdownTable(r: FaultReport): string {
  const rows = [
    '| scenario | ok | acknowledged | lost | running twice | not converged | time to recover | failover p50 / max | client errors (retries) | API error rate during fault |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of r.scenarios) {
    const errs = Object.entries(s.clients.errors).map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
    const fo = s.failover ? `${sec(s.failover.p50Ms)} / ${sec(s.failover.maxMs)} (${s.failover.vms} VMs${s.failover.notMoved ? `, ${s.failover.notMoved} not moved` : ''})` : '–';
    rows.push(`| ${s.title} | ${s.ok ? 'yes' : `**no**${s.error ? `: ${s.error.split('\n')[0].slice(0, 120)}` : ''}`} | ${s.acknowledged} | ${s.lost} | ${s.twice ?? 'not scanned'} | ${s.notConverged} | ${sec(s.recoverMs)} | ${fo} | ${errs} (${s.clients.retries}) | ${(s.errorRateDuringFault * 100).toFixed(1)} % |`);
  }
  return rows.join('\n');
}

export function writeReport(r: FaultReport, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(file.replace(/\.json$/, '') + '.md', `${markdownTable(r)}\n`);
}
