// `npm run faults`: the full fault run (issue #14 items 6 and 7), 15–30 minutes on a small machine.
// Sizes and addresses come from FAULTS_* variables (bench/faults/harness.ts); the report is written
// to FAULTS_REPORT (default .stratus-faults/report.json, and report.md) and its table printed.
// Exit code 0 only when every scenario kept every invariant.

import { StratusCluster } from './cluster';
import { markdownTable, optionsFromEnv, runFaults } from './harness';

// Ctrl-C or a SIGTERM: stop every process and Cassandra node the run started, then exit.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`faults: ${sig}: stopping the clusters of this run\n`);
    void Promise.all([...StratusCluster.live].map((c) => c.destroy())).finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  let opts;
  try {
    opts = optionsFromEnv();
  } catch (err) {
    process.stderr.write(`faults: ${(err as Error).message}\n`);
    return 2;
  }
  const report = await runFaults(opts);
  process.stdout.write(`\n${markdownTable(report)}\n\n`);
  for (const s of report.scenarios) {
    process.stdout.write(`- ${s.title}: ${[...s.notes, ...(s.error ? [`error: ${s.error}`] : [])].join('; ') || 'ok'}\n`);
  }
  if (!report.scan.agentsAnswering.length) process.stdout.write('- scan: no agent serves /debug/domains: "running twice" was not measured\n');
  process.stdout.write(`\nreport: ${opts.report} (${(report.durationMs / 60000).toFixed(1)} min) ${report.ok ? 'OK' : 'FAILED'}\n`);
  return report.ok ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`faults: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
