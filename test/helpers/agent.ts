// One real agent process for a test file: a keyspace of its own, a temporary state folder,
// libvirt's test driver for the hosts, and a stop() that undoes all of it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { AgentProcess, type AgentProcessOptions } from '../../agents/agent-process';
import { LibvirtExecutor } from '../../libvirt';
import { LeaseRepository } from '../../store/leases';
import { MetricsStore } from '../../store/samples';
import { openTestStore, type TestStore } from './store';

/** The timings most agent tests use: a lease and heartbeats in fractions of a second. */
export const FAST_TIMINGS = { renewIntervalMs: 200, fenceAfterMs: 3000, heartbeatIntervalMs: 300, resyncMs: 2000 };

export const testLogger: Logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' });

export interface TestAgent {
  t: TestStore;
  dir: string;
  executor: LibvirtExecutor;
  proc: AgentProcess;
  /** resolves when the process has stopped */
  running: Promise<void>;
  stop(): Promise<void>;
}

export interface TestAgentOptions extends Partial<Omit<AgentProcessOptions, 'store' | 'leases' | 'samples' | 'hosts' | 'stateDir' | 'executor'>> {
  /** keyspace prefix, also the state folder's name */
  name: string;
  /** the hosts, given the state folder (write their test-driver node files there) */
  hosts(dir: string): Promise<AgentProcessOptions['hosts']>;
  /** worker threads of the libvirt executor; default 2 */
  threads?: number;
  /** write monitoring samples and accounting to the test keyspace */
  monitoring?: boolean;
  /** runs after the store is open and before the agent is built (e.g. to wrap the store) */
  prepare?(t: TestStore): void;
  /** use this keyspace (e.g. a test API's) instead of a new one; stop() leaves it open */
  shared?: TestStore;
}

export async function startTestAgent(o: TestAgentOptions): Promise<TestAgent> {
  const { name, hosts, threads, monitoring, prepare, shared, ...rest } = o;
  const t = shared ?? await openTestStore(name, { followerGraceMs: 300, followerOverlapMs: 500 });
  prepare?.(t);
  const dir = await mkdtemp(join(tmpdir(), `stratus-${name}-`));
  const executor = new LibvirtExecutor({ threads: threads ?? 2 });
  const proc = new AgentProcess({
    logger: testLogger, pollIntervalMs: 100, workers: 2, timings: FAST_TIMINGS,
    ...rest,
    store: t.store,
    leases: new LeaseRepository({ client: t.client, keyspace: t.keyspace }),
    samples: monitoring ? new MetricsStore({ client: t.client, keyspace: t.keyspace }) : undefined,
    executor,
    stateDir: dir,
    hosts: await hosts(dir),
  });
  const ac = new AbortController();
  const running = proc.start(ac.signal);
  await proc.ready();
  return {
    t, dir, executor, proc, running,
    async stop() {
      ac.abort();
      await running.catch(() => undefined);
      await executor.close();
      if (!shared) await t.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
