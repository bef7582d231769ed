/**
 * Benchmark of the hypervisor agent (npm run bench:agent); prints one JSON object.
 *  1. Convergence: N VMs bound to one agent on a test-driver host; domains running per second
 *     (and Running statuses written per second), against raw define+start per second of the
 *     same domain XML through the same binding at the same concurrency. Target ratio >= 0.5.
 *     (Raw define+start of a minimal XML is reported too.) Cassandra shares the 2 cores.
 *  2. Hollow hosts, in a child process: RSS of one process running H hollow hosts (target
 *     < 512 MiB) and Cassandra operations per second per idle host (target <= 2), counted at the
 *     driver over a window after every host is up.
 * Run: npm run build && node dist/bench/agent.js [--vms 1000] [--workers 32] [--status-writers 4] [--hollow 1000] [--window 30]
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'cassandra-driver';
import pino from 'pino';
import { createCassandraClient, migrate, ObjectStore } from '../store';
import { LeaseRepository } from '../store/leases';
import { MetricsStore } from '../store/samples';
import { LibvirtConnection, LibvirtExecutor, writeTestHost } from '../libvirt';
import { AgentProcess, hollowHosts } from '../agents/agent-process';
import { progress } from './common';
import { resolveDesired } from '../agents/vm/desired';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const MiB = 1024 * 1024;
const contactPoints = (process.env.STRATUS_CASSANDRA ?? '127.0.0.1:9042').split(',');
const logger = pino({ level: process.env.STRATUS_BENCH_LOG ?? 'silent' });

/** Counts the statements a client sends (execute and batch), by first CQL word. */
function countOps(client: Client): { total: () => number; byKind: () => Record<string, number> } {
  const kinds: Record<string, number> = {};
  let n = 0;
  const exec = client.execute.bind(client);
  const batch = client.batch.bind(client);
  const note = (q: string) => {
    n++;
    const m = /^\s*(\w+)(?:[^]*?\bIF\b)?/i.exec(q);
    const k = `${(m?.[1] ?? '?').toUpperCase()}${/\bIF\b/i.test(q) ? ' (LWT)' : ''}`;
    kinds[k] = (kinds[k] ?? 0) + 1;
  };
  (client as unknown as { execute: unknown }).execute = (q: string, ...rest: unknown[]) => {
    note(q);
    return (exec as (...a: unknown[]) => unknown)(q, ...rest);
  };
  (client as unknown as { batch: unknown }).batch = (qs: unknown[], ...rest: unknown[]) => {
    n++;
    kinds['BATCH'] = (kinds['BATCH'] ?? 0) + 1;
    return (batch as (...a: unknown[]) => unknown)(qs, ...rest);
  };
  return { total: () => n, byKind: () => ({ ...kinds }) };
}

async function openStore(keyspace: string): Promise<{ client: Client; store: ObjectStore }> {
  const client = createCassandraClient({ contactPoints, connectionsPerHost: 4 });
  await client.connect();
  await migrate({ client, keyspace });
  const store = new ObjectStore({ client, keyspace });
  await store.init();
  return { client, store };
}

/** The domain XML the agent builds for bench VM i (same spec as the VMs of the convergence run). */
function agentDomainXml(i: number, consoleDir: string): string {
  const vm = {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
    metadata: { name: `raw-${i}`, namespace: 'bench', uid: randomUUID(), generation: 1 },
    spec: { cpu: 1, memory: '256Mi' }, status: { host: 'bench-hv' },
  };
  const r = resolveDesired(vm, { images: {}, volumes: {} }, { host: 'bench-hv', virtType: 'test', consoleDir, pool: 'default', poolPaths: {}, defaultDiskBytes: 1 << 30 });
  if (!r.desired) throw new Error(`cannot build the bench domain: ${r.problem?.message}`);
  return r.desired.xml;
}

/**
 * Raw define+start through the binding, `concurrency` at a time. `xml` gives each domain's
 * definition: the agent's own (the baseline of the ratio: the same libvirt work without the
 * agent) or a minimal one (for reference).
 */
async function rawDefineStart(uri: string, executor: LibvirtExecutor, n: number, concurrency: number, xml: (i: number) => string): Promise<number> {
  const conn = await LibvirtConnection.open(uri, { executor });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const dom = await conn.defineDomain(xml(i));
      await dom.start();
      dom.free();
    }
  }));
  const perSec = n / ((performance.now() - t0) / 1000);
  await conn.close();
  return perSec;
}

async function convergence(vms: number, workers: number, statusWriters: number): Promise<Record<string, unknown>> {
  const keyspace = `bench_agent_${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'stratus-bench-agent-'));
  const executor = new LibvirtExecutor({ threads: 4 });
  const { client, store } = await openStore(keyspace);
  const ops = countOps(client);
  try {
    const hostXml = { cpus: 256, memoryKiB: 1024 * 1024 * 1024 };
    const minimal = (i: number) => `<domain type='test'><name>min-${i}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
    const agentXml = (i: number) => agentDomainXml(i, dir);
    const rawUri = await writeTestHost(join(dir, 'raw.xml'), hostXml);
    await rawDefineStart(rawUri, executor, 200, workers, minimal); // warm-up
    const rawMinimal = await rawDefineStart(rawUri, executor, vms, workers, minimal);
    // The better of two runs (each on a fresh host), so noise cannot flatter the ratio.
    let raw = 0;
    for (const n of [2, 3]) raw = Math.max(raw, await rawDefineStart(await writeTestHost(join(dir, `raw${n}.xml`), hostXml), executor, vms, workers, agentXml));
    progress(`raw define+start: ${raw.toFixed(0)}/s (agent's domain XML), ${rawMinimal.toFixed(0)}/s (minimal XML)`);

    const uri = await writeTestHost(join(dir, 'agent.xml'), hostXml);
    // VMs created already bound (as the scheduler leaves them) before the agent starts, so the
    // measurement is the agent's work alone.
    let next = 0;
    const c0 = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (;;) {
        const i = next++;
        if (i >= vms) return;
        await store.create({
          apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: `vm-${i}`, namespace: 'bench' },
          spec: { cpu: 1, memory: '256Mi' }, status: { host: 'bench-hv', phase: 'Scheduled' },
        });
      }
    }));
    const createdMs = performance.now() - c0;
    const proc = new AgentProcess({
      store, leases: new LeaseRepository({ client, keyspace }), logger, executor, stateDir: dir, hosts: [{ name: 'bench-hv', libvirtUri: uri }],
      workers, statusWriters,
      timings: { resyncMs: 600_000 },
    });
    const ac = new AbortController();
    const running = proc.start(ac.signal);
    await proc.ready();
    const ops0 = ops.total();
    const calls0 = new Map(executor.callCounts);
    const t0 = performance.now();
    let domainsMs = 0;
    let statusMs = 0;
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (!domainsMs || !statusMs)) {
      // Domains the agent has running (its registry; listing domains here would cost libvirt calls).
      if (!domainsMs && proc.agents[0].snapshot().domains >= vms) domainsMs = performance.now() - t0;
      if (!statusMs) {
        const done = proc.source.informer.list().filter((o) => o.status?.phase === 'Running').length;
        if (done >= vms) statusMs = performance.now() - t0;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const convergeOps = ops.total() - ops0;
    const libvirtCalls: Record<string, number> = {};
    for (const [fn, n] of executor.callCounts) {
      const d = n - (calls0.get(fn) ?? 0);
      if (d > 0) libvirtCalls[fn] = Math.round((d / vms) * 100) / 100;
    }

    // Latency of a new binding: VMs bound one at a time (10/s) to the running agent, from the
    // write that binds them to their domain running.
    const agent = proc.agents[0];
    const lat: number[] = [];
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 100));
      const name = `late-${i}`;
      await store.create({
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'bench' },
        spec: { cpu: 1, memory: '256Mi' }, status: { host: 'bench-hv', phase: 'Scheduled' },
      });
      const bound = performance.now();
      while (!agent.hasDomain(`bench.${name}`)) await new Promise((r) => setTimeout(r, 2));
      lat.push(performance.now() - bound);
    }));
    lat.sort((a, b) => a - b);
    ac.abort();
    await running;
    const domainsPerSec = vms / (domainsMs / 1000);
    return {
      vms,
      workers,
      statusWriters,
      rawDefineStartPerSec: Math.round(raw),
      rawDefineStartMinimalXmlPerSec: Math.round(rawMinimal),
      createBoundVmsMs: Math.round(createdMs),
      domainsRunningPerSec: Math.round(domainsPerSec),
      statusRunningPerSec: Math.round(vms / (statusMs / 1000)),
      ratio: Math.round((domainsPerSec / raw) * 100) / 100,
      ratioTarget: 0.5,
      cassandraOpsPerVm: Math.round((convergeOps / vms) * 10) / 10,
      libvirtCallsPerVm: libvirtCalls,
      newBindingToRunningMs: { p50: Math.round(lat[Math.floor(lat.length / 2)]), p99: Math.round(lat[Math.floor(lat.length * 0.99)]), max: Math.round(lat[lat.length - 1]), targetP99: 1000 },
    };
  } finally {
    await executor.close();
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
    await client.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The child: H hollow hosts in this process; prints RSS and ops per idle host as JSON. */
async function hollowChild(count: number, windowSec: number): Promise<void> {
  const keyspace = `bench_hollow_${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'stratus-bench-hollow-'));
  const executor = new LibvirtExecutor({ threads: 4 });
  const { client, store } = await openStore(keyspace);
  const ops = countOps(client);
  const hosts = await hollowHosts({ prefix: 'hollow', count, dir: join(dir, 'hosts'), cpus: 32, memoryMiB: 131072 });
  const proc = new AgentProcess({
    store, leases: new LeaseRepository({ client, keyspace }), samples: new MetricsStore({ client, keyspace }),
    logger, executor, stateDir: dir, hosts, workers: 1, startSpreadMs: 10_000,
  });
  const ac = new AbortController();
  const t0 = performance.now();
  const running = proc.start(ac.signal);
  await proc.ready();
  const readyMs = performance.now() - t0;
  progress(`${count} hollow hosts up in ${Math.round(readyMs)} ms; measuring ${windowSec}s`);
  // Let the start-up burst (registrations, first samples) pass: one full heartbeat/sample period.
  await new Promise((r) => setTimeout(r, 12_000));
  const k0 = ops.byKind();
  const o0 = ops.total();
  const w0 = performance.now();
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  await new Promise((r) => setTimeout(r, windowSec * 1000));
  clearInterval(rssTimer);
  const secs = (performance.now() - w0) / 1000;
  const perHost = (ops.total() - o0) / secs / count;
  const k1 = ops.byKind();
  const byKind: Record<string, number> = {};
  for (const k of Object.keys(k1)) byKind[k] = Math.round((((k1[k] ?? 0) - (k0[k] ?? 0)) / secs) * 10) / 10;
  const fenced = proc.agents.filter((a) => a.snapshot().lease !== 'held').length;
  const leases = await proc.leases.list();
  const stale = leases.filter((l) => Date.now() - l.renewTime > 15_000).length;
  process.stdout.write(JSON.stringify({
    hosts: count,
    startupMs: Math.round(readyMs),
    rssMiB: Math.round(process.memoryUsage().rss / MiB),
    peakRssMiB: Math.round(peakRss / MiB),
    rssTargetMiB: 512,
    windowSec: Math.round(secs),
    cassandraOpsPerSecPerIdleHost: Math.round(perHost * 1000) / 1000,
    opsTargetPerHost: 2,
    cassandraOpsPerSecByKind: byKind,
    hostsNotHoldingLease: fenced,
    leasesOlderThan15s: stale,
  }) + '\n');
  ac.abort();
  await running;
  await executor.close();
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
  await client.shutdown();
  await rm(dir, { recursive: true, force: true });
}

async function hollow(count: number, windowSec: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--hollow-child', String(count), '--window', String(windowSec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => (out += String(b)));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`hollow child exited ${code}: ${out}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const child = process.argv.indexOf('--hollow-child');
  if (child >= 0) {
    await hollowChild(Number(process.argv[child + 1]), arg('window', 30));
    process.exit(0);
  }
  const vms = arg('vms', 1000);
  const workers = arg('workers', 32);
  const statusWriters = arg('status-writers', 4);
  const hosts = arg('hollow', 1000);
  const windowSec = arg('window', 30);
  progress(`convergence: ${vms} VMs, ${workers} workers`);
  const conv = await convergence(vms, workers, statusWriters);
  progress(`hollow: ${hosts} hosts`);
  const hol = hosts > 0 ? await hollow(hosts, windowSec) : undefined;
  process.stdout.write(JSON.stringify({ bench: 'agent', convergence: conv, hollow: hol }, null, 2) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:agent failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
