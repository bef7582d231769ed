// Real agents on hollow hosts (libvirt's test driver) for controller tests, each with its own
// Cassandra client so one can be cut off alone, and a ledger of the domains each hypervisor runs.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { AgentProcess, hollowHosts } from '../../agents/agent-process';
import type { AgentTimings } from '../../agents/host-agent';
import type { LeaseBackend } from '../../agents/host/lease';
import { keyOfDomainName } from '../../agents/names';
import { LibvirtExecutor } from '../../libvirt';
import { createCassandraClient, ObjectStore } from '../../store';
import { LeaseRepository } from '../../store/leases';
import { cassandraContactPoints } from './store';

export interface RunInterval {
  /** namespace/name */
  vm: string;
  host: string;
  start: number;
  stop?: number;
}

/**
 * When each domain ran on each hollow host, as libvirt shows it: the active domains of every
 * hypervisor are listed every SAMPLE_MS (one lifecycle subscription per connection is the agent's).
 */
export class Ledger {
  readonly intervals: RunInterval[] = [];

  /** `host` runs exactly the domains of VMs `active` at `at`. */
  sample(host: string, active: Set<string>, at: number): void {
    for (const i of this.intervals) if (i.host === host && i.stop === undefined && !active.has(i.vm)) i.stop = at;
    for (const vm of active) {
      if (!this.intervals.some((i) => i.vm === vm && i.host === host && i.stop === undefined)) this.intervals.push({ vm, host, start: at });
    }
  }

  /** The runs of `vm`, oldest first. */
  runs(vm: string): RunInterval[] {
    return this.intervals.filter((i) => i.vm === vm).sort((a, b) => a.start - b.start);
  }

  /** Pairs of runs of one VM that overlap in time (a VM running in two places at once). */
  overlaps(): [RunInterval, RunInterval][] {
    const out: [RunInterval, RunInterval][] = [];
    const vms = new Set(this.intervals.map((i) => i.vm));
    for (const vm of vms) {
      const l = this.runs(vm);
      for (let a = 0; a < l.length; a++) {
        for (let b = a + 1; b < l.length; b++) {
          if (l[a].start < (l[b].stop ?? Infinity) && l[b].start < (l[a].stop ?? Infinity)) out.push([l[a], l[b]]);
        }
      }
    }
    return out;
  }
}

export interface HollowAgent {
  readonly host: string;
  readonly process: AgentProcess;
  /** Cuts the agent off from Cassandra for good (its client shut down): no lease, no heartbeat. */
  partition(): Promise<void>;
  /** From now on the store refuses the agent's lease (as when another agent holds it); heartbeats go on. */
  loseLease(): void;
}

export interface HollowAgents {
  readonly agents: HollowAgent[];
  readonly ledger: Ledger;
  stop(): Promise<void>;
}

const SAMPLE_MS = 100;

export interface HollowAgentsOptions {
  keyspace: string;
  /** hosts <prefix>-0000... */
  prefix: string;
  count: number;
  /** node files, pools and console logs */
  dir: string;
  cpus?: number;
  memoryMiB?: number;
  timings: Partial<AgentTimings>;
  /** follower tuning of each agent's store; default the production one (narrow windows lose events under load) */
  feed?: { followerGraceMs: number; followerOverlapMs?: number };
}

/** Starts one AgentProcess per hollow host (each with its own Cassandra client) and waits until each runs VMs. */
export async function startHollowAgents(o: HollowAgentsOptions): Promise<HollowAgents> {
  const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });
  const executor = new LibvirtExecutor({ threads: 2 });
  const ledger = new Ledger();
  const ac = new AbortController();
  const hosts = await hollowHosts({ prefix: o.prefix, count: o.count, dir: join(o.dir, 'hosts'), cpus: o.cpus ?? 16, memoryMiB: o.memoryMiB ?? 32768 });
  const clients: ReturnType<typeof createCassandraClient>[] = [];
  const runs: Promise<void>[] = [];
  const agents: HollowAgent[] = [];
  for (const spec of hosts) {
    const client = createCassandraClient({ contactPoints: cassandraContactPoints() });
    await client.connect();
    clients.push(client);
    const store = new ObjectStore({ client, keyspace: o.keyspace, ...(o.feed ?? {}) });
    await store.init();
    const leases = new LeaseRepository({ client, keyspace: o.keyspace });
    let leaseLost = false;
    const lease: LeaseBackend = {
      acquire: async (name, holder, now, durationMs) => (leaseLost ? { ok: false, current: (await leases.get(name))! } : leases.acquire(name, holder, now, durationMs)),
      renew: async (name, holder, now) => !leaseLost && leases.renew(name, holder, now),
    };
    const stateDir = join(o.dir, spec.name);
    await mkdir(stateDir, { recursive: true });
    const proc = new AgentProcess({ store, leases, lease, logger, executor, stateDir, hosts: [spec], pollIntervalMs: 100, workers: 2, timings: o.timings });
    runs.push(proc.start(ac.signal).catch(() => undefined));
    agents.push({
      host: spec.name,
      process: proc,
      partition: () => client.shutdown(),
      loseLease: () => {
        leaseLost = true;
      },
    });
  }
  for (const a of agents) await a.process.ready();
  const sampling = (async () => {
    while (!ac.signal.aborted) {
      await Promise.all(agents.map(async (a) => {
        const conn = a.process.agents[0].conn;
        if (!conn) return;
        const domains = await conn.listAllDomains({ active: true }).catch(() => undefined);
        if (!domains) return;
        const at = Date.now();
        const active = new Set(domains.map((d) => keyOfDomainName(d.name)).filter((k): k is string => k !== undefined));
        domains.forEach((d) => d.free());
        ledger.sample(a.host, active, at);
      }));
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  return {
    agents,
    ledger,
    async stop() {
      ac.abort();
      await sampling;
      await Promise.all(runs);
      await Promise.all(clients.map((c) => c.shutdown().catch(() => undefined)));
      await executor.close();
    },
  };
}
