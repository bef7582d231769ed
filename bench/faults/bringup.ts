// Scenario 6: K fresh bring-ups in a row, each on an empty data folder; each must end with every
// component ready and an applied VM Running. Two ways to bring up:
// - "up" (the default): `npm run up`'s script itself (scripts/up.sh, single mode) with its
//   own state folder, Cassandra address and ports, no build (dist/ is fresh) and no qemu host; then
//   `npm run down` (scripts/down.sh) with the same environment.
// - "own" (FAULTS_BRINGUP_MODE=own): the harness's cluster on a fresh keyspace: the schema step, then every
//   component started at the same moment (the race of issue #14 was components creating the schema).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { API, ApiClient, ClientStats } from './client';
import { freePort } from '../../test/helpers/frontend';
import { StratusCluster, type ClusterOptions } from './cluster';
import { REPO, run, waitFor } from './procs';
import { clientSummary, emptyResult, quantile, type ScenarioResult } from './report';
import { NAMESPACE, ensureProject } from './scenarios';

export type BringUpMode = 'own' | 'up';

interface Up {
  servers: string[];
  token: string;
  ca?: string;
  how: string;
  stop(): Promise<void>;
}

async function ownBringUp(dir: string, base: Omit<ClusterOptions, 'dir'>): Promise<Up> {
  const cluster = new StratusCluster({ ...base, dir });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return { servers: cluster.frontendUrls, token: cluster.token, how: `the harness (schema made by ${cluster.migration})`, stop: () => cluster.destroy() };
}

async function upBringUp(dir: string, cassandraAddr: string): Promise<Up> {
  const [api, ctl, agent] = [await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, 'config.yaml');
  const env: NodeJS.ProcessEnv = {
    ...process.env, STRATUS_STATE_DIR: dir, STRATUS_CASSANDRA_ADDR: cassandraAddr, STRATUS_CASSANDRA_DATA: path.join(dir, 'cassandra-data'),
    STRATUS_API_PORT: String(api), STRATUS_CONTROLLERS_METRICS_PORT: String(ctl), STRATUS_AGENT_METRICS_PORT: String(agent),
    STRATUS_CONFIG: config, STRATUS_UP_BUILD: '0', STRATUS_QEMU: '0',
  };
  const stop = async () => {
    await run('bash', [path.join(REPO, 'scripts/down.sh')], env).catch(() => undefined);
  };
  try {
    await run('bash', [path.join(REPO, 'scripts/up.sh')], env, 900_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const cfg = YAML.parse(fs.readFileSync(config, 'utf8')) as { servers: string[]; token: string; ca?: string };
  return { servers: cfg.servers, token: cfg.token, ca: cfg.ca ? fs.readFileSync(cfg.ca, 'utf8') : undefined, how: 'scripts/up.sh (npm run up)', stop };
}

export async function freshBringUps(o: { k: number; mode: BringUpMode; base: Omit<ClusterOptions, 'dir'>; convergeMs: number; log: (m: string) => void }): Promise<ScenarioResult> {
  const t0 = Date.now();
  const res = emptyResult('bring-up', `${o.k} fresh bring-up(s) on an empty data folder`);
  const stats = new ClientStats();
  const times: number[] = [];
  const failures: string[] = [];
  for (let i = 0; i < o.k; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-bringup-'));
    const start = Date.now();
    let up: Up | undefined;
    try {
      o.log(`bring-up ${i + 1}/${o.k} (${o.mode}) in ${dir}`);
      up = o.mode === 'up' ? await upBringUp(dir, o.base.cassandraAddr) : await ownBringUp(dir, o.base);
      const c = new ApiClient({ servers: up.servers, token: up.token, ca: up.ca, stats });
      await ensureProject(c);
      if (!(await c.createVm(NAMESPACE, 'bringup-vm', {}))) throw new Error('the VM was not acknowledged');
      await waitFor('the VM of the bring-up to run', o.convergeMs,
        async () => ((await c.get(`${API}/namespaces/${NAMESPACE}/virtualmachines/bringup-vm`)).status?.phase === 'Running' ? true : undefined), 500);
      times.push(Date.now() - start);
      if (i === 0) res.notes.push(`brought up by ${up.how}`);
    } catch (err) {
      failures.push(`#${i + 1}: ${String(err instanceof Error ? err.message : err).split('\n')[0]}`);
      o.log(`bring-up ${i + 1} FAILED: ${String(err)}`);
    } finally {
      await up?.stop();
      if (!process.env['FAULTS_KEEP']) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  res.acknowledged = times.length;
  res.notConverged = failures.length;
  res.clients = clientSummary(stats);
  res.recoverMs = times.length ? quantile(times, 0.5) : undefined;
  res.notes.push(`${times.length}/${o.k} succeeded (start → VM Running: p50 ${((res.recoverMs ?? 0) / 1000).toFixed(1)} s, max ${((times.length ? Math.max(...times) : 0) / 1000).toFixed(1)} s)`, ...failures);
  res.ok = failures.length === 0;
  if (!res.ok) res.error = failures[0];
  res.durationMs = Date.now() - t0;
  return res;
}
