/**
 * The fault run of issue #14 (bench/faults/, `npm run faults`) at CI size: a cluster of its own
 * (three Cassandra nodes at 127.0.0.30-32, frontends, two controller replicas, three agents of
 * hollow hosts, every one a process of the harness), each fault under load from concurrent
 * clients, then one fresh bring-up. Asserts the invariants only (nothing lost, nothing running
 * twice, everything converged, the bring-up ran a VM), never a duration: the durations are in
 * the report (FAULTS_REPORT, default a temporary file here).
 * Needs the build (dist/) as the other end-to-end tests do; sizes come from FAULTS_* (harness.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { markdownTable, optionsFromEnv, runFaults } from '../../bench/faults/harness';
import type { FaultReport, ScenarioResult } from '../../bench/faults/report';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-faults-test-'));
// CI sizes unless the environment says otherwise.
const env = {
  FAULTS_VMS: '60', FAULTS_BATCH: '20', FAULTS_CLIENTS: '4', FAULTS_FRONTENDS: '2', FAULTS_BRINGUPS: '1',
  FAULTS_CONVERGE_MS: '240000', FAULTS_REPORT: path.join(tmp, 'report.json'),
  ...process.env,
};
const opts = optionsFromEnv(env, { log: (m) => process.stderr.write(`faults: ${m}\n`) });

let report: FaultReport;
beforeAll(async () => {
  report = await runFaults(opts);
  process.stderr.write(`\n${markdownTable(report)}\n`);
}, 15 * 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function result(id: string): ScenarioResult {
  const r = report.scenarios.find((s) => s.id === id);
  if (!r) throw new Error(`no result for ${id}: ${JSON.stringify(report.scenarios.map((s) => ({ id: s.id, error: s.error })))}`);
  return r;
}

/** The invariants every scenario keeps: no error, nothing lost or duplicated, nothing twice, everything converged. */
function expectKept(r: ScenarioResult): void {
  expect({ id: r.id, error: r.error, lost: r.lost, duplicates: r.duplicates, twice: r.twice ?? 0, notConverged: r.notConverged, notes: r.notes })
    .toEqual({ id: r.id, error: undefined, lost: 0, duplicates: 0, twice: 0, notConverged: 0, notes: r.notes });
}

describe('fault run (issue #14), CI size', () => {
  test('the report is written as JSON and markdown', () => {
    expect(JSON.parse(fs.readFileSync(opts.report, 'utf8')).scenarios.length).toBe(report.scenarios.length);
    expect(fs.readFileSync(opts.report.replace(/\.json$/, '.md'), 'utf8')).toContain('| scenario |');
  });

  test('kill -9 a frontend during creates: every acknowledged VM exists once and runs', () => {
    const r = result('frontend-kill');
    expectKept(r);
    expect(r.acknowledged).toBe(opts.vms);
  });

  test('kill -9 a Cassandra node: the API keeps serving, nothing lost, the node rejoins and catches up', () => {
    const r = result('cassandra-kill');
    expectKept(r);
    expect(r.acknowledged).toBe(opts.batch);
  });

  test('kill -9 a controller replica: the other places every new VM', () => {
    const r = result('controller-kill');
    expectKept(r);
    expect(r.acknowledged).toBe(opts.batch);
  });

  test.each(['agent-kill', 'agent-stop'])('%s: its VMs run elsewhere, never on two hosts at once', (id) => {
    const r = result(id);
    expectKept(r);
    expect(r.failover!.vms).toBeGreaterThan(0);
    expect(r.failover!.notMoved).toBe(0);
  });

  test('every agent answered the domain scan (so "running twice" was measured)', () => {
    expect(report.scan.unavailable).toEqual({});
    expect(report.scan.agentsAnswering.length).toBe(opts.agents);
  });

  test('stop everything and start again: every object comes back as it was, the VMs run', () => {
    expectKept(result('full-restart'));
  });

  test('fresh bring-ups on an empty data folder all succeed', () => {
    const r = result('bring-up');
    expectKept(r);
    expect(r.acknowledged).toBe(opts.bringups);
  });
});
