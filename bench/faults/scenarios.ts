// The fault scenarios of issue #14 item 6, each under load from concurrent clients, each returning
// a ScenarioResult (report.ts). They share one running cluster (scenario 6 brings up its own).

import { isDeepStrictEqual } from 'node:util';
import { API, ApiClient, ClientStats, clients, createMany, readLoad } from './client';
import { missingOn, peerCounts, storedVmNames } from './cassandra-checks';
import type { AgentEndpoint, StratusCluster } from './cluster';
import { sleep, waitFor } from './procs';
import { clientSummary, emptyResult, quantile, type ScenarioResult } from './report';
import type { DomainScanner } from './scanner';

export const NAMESPACE = 'faults';

export interface ScenarioContext {
  cluster: StratusCluster;
  scanner: DomainScanner;
  /** concurrent clients per scenario */
  clients: number;
  /** how long VMs may take to converge after a fault */
  convergeMs: number;
  /** every VM acknowledged so far, by any scenario: none may ever be lost */
  acknowledged: string[];
  log: (msg: string) => void;
}

interface VmView {
  uid: string;
  phase?: string;
  host?: string;
  /** the VM's conditions, "type=status/reason" each: what a stuck VM waits for */
  conditions?: string;
}

/** name → uid, phase, host of every VM of the namespace, read through the API. */
async function vmViews(c: ApiClient): Promise<Map<string, VmView>> {
  const out = new Map<string, VmView>();
  for (const vm of await c.listVms(NAMESPACE)) out.set(vm.metadata.name, {
    uid: vm.metadata.uid, phase: vm.status?.phase, host: vm.status?.host,
    conditions: (vm.status?.conditions ?? []).map((c: { type: string; status: string; reason?: string }) => `${c.type}=${c.status}/${c.reason ?? ''}`).join(' '),
  });
  return out;
}

/** The harness's own client (not counted in the scenario's load). */
function observer(ctx: ScenarioContext): ApiClient {
  return new ApiClient({ servers: ctx.cluster.frontendUrls, token: ctx.cluster.token, stats: new ClientStats(), retryForMs: 180_000 });
}

/** Waits until every VM of `names` is Running; returns how many are not at the end, and when the last one got there. */
async function waitRunning(ctx: ScenarioContext, names: string[]): Promise<{ notConverged: string[]; at: number }> {
  const obs = observer(ctx);
  const end = Date.now() + ctx.convergeMs;
  let pending = names;
  for (;;) {
    const views = await vmViews(obs);
    pending = names.filter((n) => views.get(n)?.phase !== 'Running');
    if (pending.length === 0) return { notConverged: pending, at: Date.now() };
    if (Date.now() > end) {
      for (const n of pending.slice(0, 10)) {
        const v = views.get(n);
        ctx.log(`  not Running after ${Math.round(ctx.convergeMs / 1000)} s: ${n} ${v ? `phase ${v.phase ?? '-'}, host ${v.host ?? '-'}, ${v.conditions || 'no conditions'}` : 'not listed'}`);
      }
      return { notConverged: pending, at: Date.now() };
    }
    await sleep(500);
  }
}

/**
 * Lost and duplicated objects: every acknowledged name must be in the API's list and in
 * Cassandra's name index; nothing may be there twice or under a name no client asked for.
 */
async function audit(ctx: ScenarioContext, requested: Set<string>): Promise<{ lost: string[]; duplicates: number }> {
  const listed = (await observer(ctx).listVms(NAMESPACE)).map((v) => v.metadata.name as string);
  const stored = await storedVmNames(ctx.cluster.cassandra, ctx.cluster.keyspace, NAMESPACE);
  const inList = new Set(listed);
  const inStore = new Set(stored);
  const lost = ctx.acknowledged.filter((n) => !inList.has(n) || !inStore.has(n));
  const extra = (xs: string[], set: Set<string>) => xs.length - set.size + xs.filter((n) => !requested.has(n)).length;
  return { lost, duplicates: Math.max(extra(listed, inList), extra(stored, inStore)) };
}

/** Runs `body` with a fresh stats object and background readers; turns the outcome into a ScenarioResult. */
async function scenario(
  ctx: ScenarioContext, id: string, title: string,
  body: (stats: ClientStats, requested: Set<string>) => Promise<Partial<ScenarioResult> & { faultAt: number; recoveredAt?: number }>,
): Promise<ScenarioResult> {
  const t0 = Date.now();
  ctx.log(`scenario ${id}: ${title}`);
  const stats = new ClientStats();
  const requested = new Set<string>(ctx.acknowledged);
  const readers = new AbortController();
  const reading = readLoad(clients(Math.max(2, Math.floor(ctx.clients / 2)), ctx.cluster.frontendUrls, ctx.cluster.token, stats), NAMESPACE, () => ctx.acknowledged, readers.signal);
  const res = emptyResult(id, title);
  let faultAt = t0;
  try {
    const out = await body(stats, requested);
    faultAt = out.faultAt;
    Object.assign(res, out);
    res.errorRateDuringFault = stats.errorRate(out.faultAt, out.recoveredAt ?? Date.now());
  } catch (err) {
    res.error = err instanceof Error ? err.message : String(err);
  } finally {
    readers.abort();
    await reading;
  }
  try {
    const a = await audit(ctx, requested);
    res.lost = a.lost.length;
    res.duplicates = a.duplicates;
    if (a.lost.length) res.notes.push(`lost: ${a.lost.slice(0, 10).join(', ')}`);
  } catch (err) {
    res.error = `${res.error ? `${res.error}; ` : ''}audit failed: ${String(err)}`;
  }
  res.twice = ctx.scanner.available ? ctx.scanner.twiceSince(faultAt) : null;
  res.clients = clientSummary(stats);
  res.durationMs = Date.now() - t0;
  res.ok = !res.error && res.lost === 0 && res.duplicates === 0 && (res.twice ?? 0) === 0 && res.notConverged === 0;
  delete (res as Partial<{ faultAt: number }>).faultAt;
  delete (res as Partial<{ recoveredAt: number }>).recoveredAt;
  ctx.log(`scenario ${id}: ${res.ok ? 'ok' : `FAILED ${res.error ?? ''}`} (acknowledged ${res.acknowledged}, lost ${res.lost}, twice ${res.twice}, not converged ${res.notConverged})`);
  return res;
}

/** Creates `n` VMs named <prefix>-NNNN through every frontend; `fault` runs once `at` of them are acknowledged. */
async function createUnderFault(ctx: ScenarioContext, stats: ClientStats, requested: Set<string>, prefix: string, n: number, at: number, fault: () => Promise<void>): Promise<{ acked: string[]; faultAt: number }> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
  names.forEach((x) => requested.add(x));
  let faultAt = 0;
  let faulting: Promise<void> | undefined;
  const acked = await createMany(clients(ctx.clients, ctx.cluster.frontendUrls, ctx.cluster.token, stats), NAMESPACE, names, { scenario: prefix }, (k) => {
    if (k >= at && !faulting) {
      faultAt = Date.now();
      faulting = fault();
    }
  });
  await faulting;
  if (!faultAt) {
    faultAt = Date.now();
    await fault();
  }
  ctx.acknowledged.push(...acked);
  return { acked, faultAt };
}

/** 1. kill -9 a frontend while VMs are applied through all of them. */
export function frontendKill(ctx: ScenarioContext, vms: number): Promise<ScenarioResult> {
  return scenario(ctx, 'frontend-kill', `kill -9 a frontend during ${vms} creates`, async (stats, requested) => {
    const victim = ctx.cluster.frontends[ctx.cluster.frontends.length - 1];
    const { acked, faultAt } = await createUnderFault(ctx, stats, requested, 's1', vms, Math.floor(vms / 3), async () => {
      ctx.log(`  kill -9 ${victim.component.name} (pid ${victim.component.pid})`);
      await victim.component.kill9();
    });
    const conv = await waitRunning(ctx, acked);
    await ctx.cluster.restart(victim);
    return { acknowledged: acked.length, notConverged: conv.notConverged.length, faultAt, recoveredAt: conv.at, recoverMs: conv.at - faultAt,
      notes: [`killed ${victim.component.name}; recovery = kill → every acknowledged VM Running`] };
  });
}

/** 2. kill -9 one Cassandra node under load; restart it; it rejoins and catches up. */
export function cassandraKill(ctx: ScenarioContext, vms: number): Promise<ScenarioResult> {
  return scenario(ctx, 'cassandra-kill', `kill -9 one Cassandra node of ${ctx.cluster.o.cassandraNodes} during ${vms} creates`, async (stats, requested) => {
    const cass = ctx.cluster.cassandra;
    const node = cass.o.nodes;
    if (node < 3) throw new Error(`needs 3 Cassandra nodes (quorum survives one loss), the cluster has ${node}`);
    const { acked, faultAt } = await createUnderFault(ctx, stats, requested, 's2', vms, Math.floor(vms / 3), async () => {
      ctx.log(`  kill -9 Cassandra node ${node} (${cass.addr(node)}, pid ${cass.pid(node)})`);
      await cass.kill9(node);
    });
    const downConv = await waitRunning(ctx, acked);
    const notes = [`node ${node} down for the creates; ${downConv.notConverged.length} not Running while it was down`];
    ctx.log(`  restarting Cassandra node ${node}`);
    await cass.start();
    const peers = await waitFor('every node to list the others in system.peers_v2', 120_000,
      async () => { const p = await peerCounts(cass); return p.every((x) => x === cass.o.nodes - 1) ? p : undefined; }, 1000);
    notes.push(`rejoined: peers per node ${peers.join('/')}`);
    // Catch-up: hinted handoff replays the writes the node missed (within max_hint_window) soon after
    // it is back. Wait for that first (reads at ONE pinned to the node), then read everything once at
    // ALL (blocking read repair writes what a replica lacks), then ONE on the node again: must be 0.
    const nodeCp = cass.contactPoints[node - 1];
    const all = [...ctx.acknowledged];
    let missing = await missingOn(cass, ctx.cluster.keyspace, NAMESPACE, all, 'one', nodeCp);
    const hintsEnd = Date.now() + 60_000;
    while (missing.length && Date.now() < hintsEnd) {
      await sleep(2000);
      missing = await missingOn(cass, ctx.cluster.keyspace, NAMESPACE, missing, 'one', nodeCp);
    }
    notes.push(`${missing.length} of ${all.length} objects missing on the restarted node after hints (60 s at most)`);
    const unreadableAtAll = await missingOn(cass, ctx.cluster.keyspace, NAMESPACE, all, 'all');
    const after = await missingOn(cass, ctx.cluster.keyspace, NAMESPACE, all, 'one', nodeCp);
    notes.push(`read at ALL (repair by read): ${unreadableAtAll.length} missing; then at ONE on node ${node}: ${after.length} missing`);
    const recoveredAt = Date.now();
    const conv = await waitRunning(ctx, acked);
    return { acknowledged: acked.length, notConverged: conv.notConverged.length + after.length + unreadableAtAll.length, faultAt, recoveredAt, recoverMs: recoveredAt - faultAt,
      notes: [...notes, 'recovery = kill → node restarted, rejoined and every acknowledged object readable on it'] };
  });
}

/** 3. kill -9 a controller replica: the other keeps placing. */
export function controllerKill(ctx: ScenarioContext, vms: number): Promise<ScenarioResult> {
  return scenario(ctx, 'controller-kill', `kill -9 a controller replica, then ${vms} creates`, async (stats, requested) => {
    const victim = ctx.cluster.controllers[0];
    const faultAt = Date.now();
    ctx.log(`  kill -9 ${victim.component.name} (pid ${victim.component.pid})`);
    await victim.component.kill9();
    const { acked } = await createUnderFault(ctx, stats, requested, 's3', vms, 0, async () => undefined);
    const conv = await waitRunning(ctx, acked);
    await ctx.cluster.restart(victim);
    return { acknowledged: acked.length, notConverged: conv.notConverged.length, faultAt, recoveredAt: conv.at, recoverMs: conv.at - faultAt,
      notes: [`${ctx.cluster.controllers.length - 1} replica(s) left; recovery = kill → every VM created after it Running`] };
  });
}

/** VMs for the agent faults to move when the earlier scenarios did not run: a batch with no fault. */
export function seedVms(ctx: ScenarioContext, n: number): Promise<ScenarioResult> {
  return scenario(ctx, 'seed', `${n} VMs for the agent faults (no fault)`, async (stats, requested) => {
    const { acked, faultAt } = await createUnderFault(ctx, stats, requested, 's4', n, n, async () => undefined);
    const conv = await waitRunning(ctx, acked);
    return { acknowledged: acked.length, notConverged: conv.notConverged.length, faultAt, recoveredAt: conv.at };
  });
}

/**
 * Waits until every VM that ran on `agent`'s hosts runs on another host; failover time per VM =
 * fault → first seen Running elsewhere (API list every 500 ms).
 */
async function failover(ctx: ScenarioContext, agent: AgentEndpoint, victims: Map<string, VmView>, faultAt: number): Promise<{ times: number[]; notMoved: string[] }> {
  const obs = observer(ctx);
  const times = new Map<string, number>();
  const end = Date.now() + ctx.convergeMs;
  while (times.size < victims.size && Date.now() < end) {
    const views = await vmViews(obs);
    for (const name of victims.keys()) {
      const v = views.get(name);
      if (!times.has(name) && v?.phase === 'Running' && v.host && !agent.hosts.includes(v.host)) times.set(name, Date.now() - faultAt);
    }
    await sleep(500);
  }
  return { times: [...times.values()], notMoved: [...victims.keys()].filter((n) => !times.has(n)) };
}

/** The VMs running on `agent`'s hosts now. */
async function vmsOn(ctx: ScenarioContext, agent: AgentEndpoint): Promise<Map<string, VmView>> {
  const views = await vmViews(observer(ctx));
  return new Map([...views].filter(([, v]) => v.phase === 'Running' && v.host && agent.hosts.includes(v.host)));
}

/** 4. kill -9 an agent (mode kill) or freeze it with SIGSTOP (mode stop): its VMs run elsewhere, never twice. */
export function agentFault(ctx: ScenarioContext, mode: 'kill' | 'stop', agentIndex: number): Promise<ScenarioResult> {
  const what = mode === 'kill' ? 'kill -9 an agent' : 'SIGSTOP an agent (SIGCONT after its VMs moved)';
  return scenario(ctx, `agent-${mode}`, what, async () => {
    const agent = ctx.cluster.agents[agentIndex % ctx.cluster.agents.length];
    const victims = await vmsOn(ctx, agent);
    if (victims.size === 0) throw new Error(`${agent.component.name} runs no VM: nothing to fail over`);
    const faultAt = Date.now();
    ctx.log(`  ${mode === 'kill' ? 'kill -9' : 'SIGSTOP'} ${agent.component.name} (pid ${agent.component.pid}, ${victims.size} VMs)`);
    if (mode === 'kill') await agent.component.kill9();
    else agent.component.signal('SIGSTOP');
    const { times, notMoved } = await failover(ctx, agent, victims, faultAt);
    const recoveredAt = Date.now();
    const notes = [`${agent.component.name} ran ${victims.size} VMs; failover = fault → Running on another host (API status)`];
    if (mode === 'stop') {
      agent.component.signal('SIGCONT');
      ctx.log(`  SIGCONT ${agent.component.name}`);
      // The thawed agent must find its lease gone and stop its stale domains without touching the new copies.
      await ctx.cluster.waitReady([agent]);
      const stale = await waitFor(`${agent.component.name} to clean up after SIGCONT`, ctx.convergeMs, async () => {
        const r = await fetch(`${agent.url}/debug/domains`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 404) return 'no /debug/domains endpoint: cleanup not observed';
        const body = (await r.json()) as { hosts: { domains: { vm?: string; state?: string }[] }[] };
        const left = body.hosts.flatMap((h) => h.domains).filter((d) => d.vm && victims.has(d.vm.split('/')[1]) && d.state === 'running');
        return left.length === 0 ? 'its stale domains are gone' : undefined;
      }, 500);
      notes.push(`after SIGCONT: ${stale}`);
    } else {
      await ctx.cluster.restart(agent);
      notes.push(`${agent.component.name} restarted afterwards`);
    }
    const conv = await waitRunning(ctx, [...victims.keys()]);
    return {
      acknowledged: 0, faultAt, recoveredAt, recoverMs: recoveredAt - faultAt, notConverged: conv.notConverged.length,
      failover: { vms: victims.size, notMoved: notMoved.length, p50Ms: quantile(times, 0.5), maxMs: times.length ? Math.max(...times) : 0 },
      notes,
    };
  });
}

/** The objects whose state must survive a full restart: every VM, Project and Host (metadata identity and spec). */
async function snapshot(c: ApiClient): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [kind, url] of [['vm', `${API}/namespaces/${NAMESPACE}/virtualmachines`], ['project', `${API}/projects`], ['host', `${API}/hosts`]]) {
    for (const o of await c.listAll(url)) {
      out[`${kind}/${o.metadata.name}`] = { uid: o.metadata.uid, generation: o.metadata.generation, labels: o.metadata.labels, spec: o.spec };
    }
  }
  return out;
}

/** 5. SIGTERM everything, start it again: every object comes back as it was and the VMs run again. */
export function fullRestart(ctx: ScenarioContext): Promise<ScenarioResult> {
  return scenario(ctx, 'full-restart', 'stop everything (SIGTERM), start it again', async () => {
    const before = await snapshot(observer(ctx));
    const faultAt = Date.now();
    ctx.log(`  stopping every component and Cassandra (${Object.keys(before).length} objects in the snapshot)`);
    const { unclean } = await ctx.cluster.stop();
    ctx.log('  starting again');
    await ctx.cluster.start();
    const after = await snapshot(observer(ctx));
    const changed = Object.keys(before).filter((k) => !isDeepStrictEqual(before[k], after[k]));
    const conv = await waitRunning(ctx, [...ctx.acknowledged]);
    const notes = [`${Object.keys(before).length} objects compared (uid, generation, labels, spec): ${changed.length} differ`];
    if (unclean.length) notes.push(`not a clean exit on SIGTERM: ${unclean.join(', ')}`);
    if (changed.length) notes.push(`differ: ${changed.slice(0, 10).join(', ')}`);
    return { acknowledged: 0, lost: changed.length, notConverged: conv.notConverged.length, faultAt, recoveredAt: conv.at, recoverMs: conv.at - faultAt, notes };
  });
}

/** The project (namespace) of the fault VMs; no quota, so admission never limits the load. */
export async function ensureProject(c: ApiClient): Promise<void> {
  const r = await c.request('POST', `${API}/projects`, { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: NAMESPACE }, spec: {} });
  if (r.status >= 300 && r.status !== 409) throw new Error(`creating project ${NAMESPACE}: ${r.status} ${r.body?.message ?? ''}`);
}
