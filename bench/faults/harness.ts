// The fault run: one cluster of its own, the scenarios in order under a scanner that watches every
// agent's domains for the whole run, then the fresh bring-ups, then the report.
// `npm run faults` (bench/faults/main.ts) runs it full size; test/e2e/faults.test.ts CI-sized.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { intValue } from '../../config/env';
import { ApiClient, ClientStats } from './client';
import { StratusCluster, failoverSettings } from './cluster';
import { REPO } from './procs';
import { emptyResult, markdownTable, writeReport, type FaultReport, type ScenarioResult } from './report';
import { DomainScanner } from './scanner';
import { freshBringUps, type BringUpMode } from './bringup';
import { agentFault, cassandraKill, controllerKill, ensureProject, frontendKill, fullRestart, seedVms, type ScenarioContext } from './scenarios';

export const SCENARIOS = ['frontend-kill', 'cassandra-kill', 'controller-kill', 'agent-kill', 'agent-stop', 'full-restart', 'bring-up'] as const;

export interface FaultOptions {
  /** FAULTS_VMS: VMs created during the frontend kill (500 full, ~100 in CI) */
  vms: number;
  /** FAULTS_BATCH: VMs created during the Cassandra and controller kills */
  batch: number;
  /** FAULTS_CLIENTS: concurrent writer clients */
  clients: number;
  frontends: number;
  controllers: number;
  agents: number;
  hostsPerAgent: number;
  /** FAULTS_CASSANDRA_ADDR: node 1 of the harness's 3-node cluster (default 127.0.0.30) */
  cassandraAddr: string;
  cassandraNodes: number;
  /** FAULTS_BRINGUPS: fresh bring-ups in a row (10 full, 1–2 in CI) */
  bringups: number;
  /** FAULTS_BRINGUP_ADDR: Cassandra of the bring-ups (default 127.0.0.35) */
  bringupAddr: string;
  /** FAULTS_BRINGUP_MODE: up (scripts/up.sh, the default) or own (the harness's bring-up: migrate, then every component at once) */
  bringupMode: BringUpMode;
  /** FAULTS_CONVERGE_MS: how long VMs may take to converge after a fault */
  convergeMs: number;
  /** FAULTS_DIR: working folder (default a new one in the system's temporary folder) */
  dir: string;
  /** FAULTS_REPORT: report path (default .stratus-faults/report.json; a .md next to it) */
  report: string;
  /** FAULTS_SCENARIOS: comma-separated subset of SCENARIOS */
  scenarios: string[];
  log: (msg: string) => void;
}

/** Options from the FAULTS_* environment (the full run's sizes by default). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<FaultOptions> = {}): FaultOptions {
  const n = (name: string, def: number) => intValue(name, env[name], def);
  const scenarios = (env['FAULTS_SCENARIOS'] ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`FAULTS_SCENARIOS: unknown scenario(s) ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
  const addr = (name: string, def: string) => {
    const v = env[name] || def;
    if (!/^127\.\d+\.\d+\.\d+$/.test(v)) throw new Error(`${name} must be a loopback IPv4 address (127.x.y.z), got "${v}"`);
    return v;
  };
  return {
    vms: n('FAULTS_VMS', 500), batch: n('FAULTS_BATCH', 100), clients: Math.max(1, n('FAULTS_CLIENTS', 8)),
    frontends: Math.max(2, n('FAULTS_FRONTENDS', 3)), controllers: Math.max(2, n('FAULTS_CONTROLLERS', 2)),
    agents: Math.max(3, n('FAULTS_AGENTS', 3)), hostsPerAgent: Math.max(1, n('FAULTS_HOSTS_PER_AGENT', 1)),
    cassandraAddr: addr('FAULTS_CASSANDRA_ADDR', '127.0.0.30'), cassandraNodes: 3,
    bringups: n('FAULTS_BRINGUPS', 10), bringupAddr: addr('FAULTS_BRINGUP_ADDR', '127.0.0.35'), bringupMode: bringupMode(env['FAULTS_BRINGUP_MODE']),
    convergeMs: n('FAULTS_CONVERGE_MS', 300_000),
    dir: env['FAULTS_DIR'] || '',
    report: env['FAULTS_REPORT'] || path.join(REPO, '.stratus-faults', 'report.json'),
    scenarios,
    log: (m) => process.stderr.write(`faults: ${m}\n`),
    ...overrides,
  };
}

function bringupMode(v: string | undefined): BringUpMode {
  if (!v) return 'up';
  if (v !== 'own' && v !== 'up') throw new Error(`FAULTS_BRINGUP_MODE must be own or up, got "${v}"`);
  return v;
}

export async function runFaults(o: FaultOptions): Promise<FaultReport> {
  const t0 = Date.now();
  const dir = o.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-faults-'));
  const failoverCfg = failoverSettings();
  const want = (s: string) => o.scenarios.includes(s);
  const base = {
    cassandraNodes: o.cassandraNodes, frontends: o.frontends, controllers: o.controllers, agents: o.agents,
    hostsPerAgent: o.hostsPerAgent, env: failoverCfg.env,
  };
  const report: FaultReport = {
    startedAt: new Date(t0).toISOString(), durationMs: 0, ok: false, scenarios: [],
    settings: { ...o, log: undefined, dir, failover: { source: failoverCfg.source, fenceMs: failoverCfg.fenceMs, rescheduleMs: failoverCfg.rescheduleMs } },
    scan: { rounds: 0, agentsAnswering: [], unavailable: {} },
  };
  o.log(`working folder ${dir}; failover settings: ${failoverCfg.source}`);
  // Written after every scenario, so a long run that is stopped half-way still leaves its numbers.
  const results = {
    push(r: ScenarioResult): void {
      report.scenarios.push(r);
      report.durationMs = Date.now() - t0;
      writeReport(report, o.report);
    },
  };
  const clusterScenarios = SCENARIOS.filter((s) => s !== 'bring-up' && want(s));
  if (clusterScenarios.length) {
    const cluster = new StratusCluster({ ...base, dir, cassandraAddr: o.cassandraAddr });
    const scanner = new DomainScanner(() => cluster.agents.map((a) => ({ name: a.component.name, url: a.url })));
    try {
      o.log(`starting Cassandra (${o.cassandraNodes} nodes from ${o.cassandraAddr}), ${o.frontends} frontends, ${o.controllers} controllers, ${o.agents} agents`);
      await cluster.start();
      o.log(`cluster ready (schema made by ${cluster.migration})`);
      (report.settings as Record<string, unknown>)['migration'] = cluster.migration;
      await ensureProject(new ApiClient({ servers: cluster.frontendUrls, token: cluster.token, stats: new ClientStats() }));
      scanner.start();
      const ctx: ScenarioContext = { cluster, scanner, clients: o.clients, convergeMs: o.convergeMs, acknowledged: [], log: o.log };
      if (want('frontend-kill')) results.push(await frontendKill(ctx, o.vms));
      if (want('cassandra-kill')) results.push(await cassandraKill(ctx, o.batch));
      if (want('controller-kill')) results.push(await controllerKill(ctx, o.batch));
      // The agent faults need VMs to move: when run alone, place some first.
      if ((want('agent-kill') || want('agent-stop')) && ctx.acknowledged.length < o.agents * 3) results.push(await seedVms(ctx, o.agents * 5));
      if (want('agent-kill')) results.push(await agentFault(ctx, 'kill', 0));
      if (want('agent-stop')) results.push(await agentFault(ctx, 'stop', 1));
      if (want('full-restart')) results.push(await fullRestart(ctx));
    } catch (err) {
      results.push({ ...emptyResult('cluster', 'the fault cluster'), durationMs: Date.now() - t0, error: err instanceof Error ? err.message : String(err) });
    } finally {
      await scanner.stop();
      report.scan = { rounds: scanner.rounds, agentsAnswering: [...scanner.answered], unavailable: Object.fromEntries(scanner.unavailable) };
      await cluster.destroy();
    }
  }
  if (want('bring-up')) {
    results.push(await freshBringUps({
      k: o.bringups, mode: o.bringupMode, convergeMs: o.convergeMs, log: o.log,
      base: { ...base, cassandraAddr: o.bringupAddr, cassandraNodes: 1, frontends: 1, controllers: 1, agents: 1 },
    }));
  }
  report.durationMs = Date.now() - t0;
  report.ok = report.scenarios.length > 0 && report.scenarios.every((r) => r.ok);
  writeReport(report, o.report);
  if (!process.env['FAULTS_KEEP'] && !o.dir) fs.rmSync(dir, { recursive: true, force: true });
  return report;
}

export { markdownTable };
