/**
 * Address claim benchmark (npm run bench:ipam); prints one JSON object.
 *  1. Claims per second: N VMs (default 2000) each claim one address on a /20 network through
 *     controllers/ipam claimAddresses, by 1 and by 3 concurrent claimers (each with its own
 *     AddressClaim informer and cache, as scheduler replicas have), W workers each; lost creates
 *     (collisions) and Cassandra statements per claim counted at the driver (the informers read
 *     through another client, so their polling is not counted). Every address checked unique.
 *  2. Raw conditional writes per second in the same run: INSERT ... IF NOT EXISTS on a scratch
 *     table through the same driver, at the same total concurrency, for the ratio.
 *  3. End to end (--e2e-vms, default 500; 0 skips): placements per second of VMs on a Network with
 *     1 and 3 scheduler replicas (claim the address, claim capacity, bind with status.addresses).
 * Run: npm run build && node dist/bench/ipam.js [--vms 2000] [--workers 16] [--e2e-vms 500] [--hosts 50]
 * Uses its own keyspaces (dropped afterwards) on STRATUS_CASSANDRA (default 127.0.0.1:9042).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import pino from 'pino';
import { loadCassandraConfig } from '../config';
import { createCassandraClient, migrate, ObjectStore, type AddressClaimObject, type NetworkObject, type VirtualMachineObject } from '../store';
import { Informer } from '../runtime';
import { AddressClaimCache, claimAddresses } from '../controllers/ipam';
import { hostObject, pool, vmObject } from '../test/helpers/fixtures';
import { startReplicas } from '../test/helpers/replicas';
import { progress } from './common';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const roundTo = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const logger = pino({ level: process.env.STRATUS_BENCH_LOG ?? 'silent' });

/** Counts the statements a client sends (execute and batch). */
function countStatements(client: Client): { total: () => number; byKind: () => Record<string, number> } {
  const kinds: Record<string, number> = {};
  let n = 0;
  const exec = client.execute.bind(client);
  const batch = client.batch.bind(client);
  (client as unknown as { execute: unknown }).execute = (q: string, ...rest: unknown[]) => {
    n++;
    const k = `${(/^\s*(\w+)/.exec(q)?.[1] ?? '?').toUpperCase()}${/\bIF\b/i.test(q) ? ' (LWT)' : ''}`;
    kinds[k] = (kinds[k] ?? 0) + 1;
    return (exec as (...a: unknown[]) => unknown)(q, ...rest);
  };
  (client as unknown as { batch: unknown }).batch = (qs: unknown[], ...rest: unknown[]) => {
    n++;
    kinds.BATCH = (kinds.BATCH ?? 0) + 1;
    return (batch as (...a: unknown[]) => unknown)(qs, ...rest);
  };
  return { total: () => n, byKind: () => ({ ...kinds }) };
}

async function main(): Promise<void> {
  const vms = arg('vms', 2000);
  const workers = arg('workers', 16);
  const e2eVms = arg('e2e-vms', 500);
  const hostCount = arg('hosts', 50);
  const cfg = loadCassandraConfig();
  const admin = createCassandraClient({ ...cfg, keyspace: undefined });
  await admin.connect();
  const keyspaces: string[] = [];
  const fresh = async () => {
    const keyspace = `bench_ipam_${randomBytes(4).toString('hex')}`;
    keyspaces.push(keyspace);
    await migrate({ client: admin, keyspace });
    return keyspace;
  };
  const storeOn = async (keyspace: string) => {
    const client = createCassandraClient({ ...cfg, keyspace: undefined });
    await client.connect();
    const store = new ObjectStore({ client, keyspace, followerGraceMs: 300, followerOverlapMs: 500 });
    await store.init();
    return { client, store };
  };
  const clients: Client[] = [];

  try {
    // 1. claimAddresses by 1 and 3 claimers
    const claims: Array<{ claimers: number; claims_per_sec: number; [k: string]: unknown }> = [];
    for (const claimers of [1, 3]) {
      progress(`ipam: ${vms} claims by ${claimers} claimer(s)`);
      const keyspace = await fresh();
      const reader = await storeOn(keyspace); // informers' reads: not counted
      const writer = await storeOn(keyspace);
      clients.push(reader.client, writer.client);
      const net = await writer.store.create<NetworkObject>({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { namespace: 'bench', name: 'big' }, spec: { cidr: '10.64.0.0/20' } });
      const ac = new AbortController();
      const parts = Array.from({ length: claimers }, () => {
        const informer = new Informer<AddressClaimObject>({ store: reader.store, kind: 'AddressClaim', logger, pollIntervalMs: 100 });
        return { informer, cache: new AddressClaimCache(informer), run: informer.start(ac.signal) };
      });
      for (const p of parts) await p.informer.waitForSync();
      const todo: VirtualMachineObject[] = Array.from({ length: vms }, (_, i) => ({
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
        metadata: { namespace: 'bench', name: `vm-${i}`, uid: randomUUID(), generation: 1 },
        spec: { cpu: 1, memory: '256Mi', networks: [{ name: 'eth0', network: 'big' }] },
      }));
      const counter = countStatements(writer.client);
      let next = 0;
      let collisions = 0;
      let failed = 0;
      const got: string[] = [];
      const t0 = performance.now();
      await Promise.all(parts.flatMap((p, c) => Array.from({ length: workers }, async (_, w) => {
        for (let i = next++; i < vms; i = next++) {
          const out = await claimAddresses(writer.store, {
            vm: todo[i], networks: () => net, claims: p.cache, by: `claimer-${c}/${w}`, now: Date.now(), rng: Math.random,
            onCollision: () => { collisions++; },
          });
          if (out.ok) got.push(out.addresses[0].ipAddress);
          else failed++;
        }
      })));
      const seconds = (performance.now() - t0) / 1000;
      const statements = counter.total();
      ac.abort();
      await Promise.all(parts.map((p) => p.run));
      claims.push({
        claimers, workers_per_claimer: workers, vms, claimed: got.length, failed, unique_addresses: new Set(got).size,
        seconds: roundTo(seconds, 2), claims_per_sec: roundTo(got.length / seconds), collisions,
        collisions_per_claim: roundTo(collisions / Math.max(1, got.length), 3),
        statements_per_claim: roundTo(statements / Math.max(1, got.length), 2), statements_by_kind: counter.byKind(),
      });
    }

    // 2. raw conditional writes at the same concurrencies
    progress('ipam: raw conditional writes');
    const rawKs = await fresh();
    await admin.execute(`CREATE TABLE IF NOT EXISTS ${rawKs}.bench_cas (k text PRIMARY KEY, v int)`);
    const raw: Array<{ concurrency: number; writes: number; writes_per_sec: number }> = [];
    for (const concurrency of [workers, 3 * workers]) {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < vms; i = next++) await admin.execute(`INSERT INTO ${rawKs}.bench_cas (k, v) VALUES (?, ?) IF NOT EXISTS`, [`${concurrency}-${i}`, i], { prepare: true });
      }));
      raw.push({ concurrency, writes: vms, writes_per_sec: roundTo(vms / ((performance.now() - t0) / 1000)) });
    }

    // 3. end to end: scheduler replicas placing VMs on a Network
    const e2e: Array<Record<string, unknown>> = [];
    if (e2eVms > 0) {
      for (const replicas of [1, 3]) {
        progress(`ipam: ${e2eVms} placements on a network by ${replicas} replica(s)`);
        const { store, client } = await storeOn(await fresh());
        clients.push(client);
        await pool(Array.from({ length: hostCount }, (_, i) => i), 16, (i) => {
          const h = hostObject(`hv-${i}`, { cpu: 64, memory: '256Gi' });
          (h.status as Record<string, unknown>).networking = { backend: 'none', modes: ['nat'] };
          return store.create(h);
        });
        await store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { namespace: 'bench', name: 'lan' }, spec: { cidr: '10.96.0.0/20' } });
        await pool(Array.from({ length: e2eVms }, (_, i) => i), 32, (i) => {
          const v = vmObject('bench', `vm-${i}`, { cpu: 1, memory: '1Gi' });
          (v.spec as Record<string, unknown>).networks = [{ name: 'eth0', network: 'lan' }];
          return store.create(v);
        });
        const run = await startReplicas(store, replicas, { logger, informer: { pollIntervalMs: 100 }, enable: { hostHealth: false, audit: false, lifecycle: false } });
        const t0 = Date.now();
        const seen = run.replicas[0].informers.vms;
        while (seen.list().filter((v) => v.status?.host).length < e2eVms && Date.now() - t0 < 300_000) await new Promise((r) => setTimeout(r, 20));
        const seconds = (Date.now() - t0) / 1000;
        const placed = await run.counter('stratus_scheduler_placements_total');
        const collisions = await run.counter('stratus_ipam_collisions_total');
        await run.stop();
        const bound = seen.list().filter((v) => v.status?.host);
        const addrs = new Set(bound.map((v) => v.status?.addresses?.[0]?.ipAddress));
        e2e.push({
          replicas, vms: e2eVms, hosts: hostCount, bound: bound.length, unique_addresses: addrs.size, seconds: roundTo(seconds, 2),
          placements_per_sec: roundTo(placed / seconds), address_collisions: collisions,
        });
      }
    }

    const best = (n: number) => claims.find((c) => c.claimers === n)!;
    const rawAt = (c: number) => raw.find((r) => r.concurrency === c)!.writes_per_sec;
    process.stdout.write(`${JSON.stringify({
      benchmark: 'ipam',
      node: process.version,
      network: '/20 (4093 usable addresses)',
      claims,
      raw_conditional_writes: raw,
      claims_per_raw_cas: {
        one_claimer: roundTo(best(1).claims_per_sec / rawAt(workers), 3),
        three_claimers: roundTo(best(3).claims_per_sec / rawAt(3 * workers), 3),
      },
      three_vs_one_claimers: roundTo(best(3).claims_per_sec / best(1).claims_per_sec, 2),
      end_to_end: e2e,
      note: 'a claim is one object create: a conditional INSERT of the row plus its change-feed entry and name index (statements_by_kind); a lost create adds a SERIAL read. Raw: one INSERT IF NOT EXISTS per write.',
    }, null, 2)}\n`);
  } finally {
    for (const c of clients) await c.shutdown().catch(() => undefined);
    for (const ks of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
    await admin.shutdown();
  }
}

main().catch((err) => {
  process.stderr.write(`bench/ipam: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
