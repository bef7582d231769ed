// A real agent PROCESS for the failover tests (test/agents/fencing-freeze.test.ts): hollow hosts in
// their own OS process, so a test can SIGSTOP, SIGCONT or SIGKILL it, with GET /debug/domains,
// /readyz and /healthz on a port of its own. It is the wiring of agents/main.ts without the parts
// these tests do not need (monitoring, consoles, events); it exists because agents/main.ts does
// not mount /debug/domains on its metrics server yet (the lead wires AgentProcess.debugDomainsHandler
// there). Run compiled: node dist/test/helpers/failover-agent.js '<json FailoverAgentArgs>'; it
// prints {"port":N} on its first line of stdout once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { AgentProcess, hollowHosts } from '../../agents/agent-process';
import type { AgentTimings } from '../../agents/host-agent';
import { LibvirtExecutor } from '../../libvirt';
import { createCassandraClient, ObjectStore } from '../../store';
import { LeaseRepository } from '../../store/leases';

export interface FailoverAgentArgs {
  contactPoints: string[];
  keyspace: string;
  /** hosts <prefix>-0000... */
  prefix: string;
  count: number;
  stateDir: string;
  labels?: Record<string, string>;
  /** default: the agent's defaults (DEFAULT_TIMINGS) */
  timings?: Partial<AgentTimings>;
}

async function run(a: FailoverAgentArgs): Promise<void> {
  const logger = pino({ level: process.env.STRATUS_TEST_LOG ?? 'silent' }, pino.destination(2));
  const client = createCassandraClient({ contactPoints: a.contactPoints });
  await client.connect();
  const store = new ObjectStore({ client, keyspace: a.keyspace });
  await store.init();
  const hosts = await hollowHosts({ prefix: a.prefix, count: a.count, dir: join(a.stateDir, 'hollow'), cpus: 16, memoryMiB: 32768, labels: a.labels });
  const executor = new LibvirtExecutor({ threads: 2 });
  const proc = new AgentProcess({
    store, leases: new LeaseRepository({ client, keyspace: a.keyspace }), hosts, stateDir: a.stateDir, executor, logger,
    pollIntervalMs: 100, workers: 2, timings: a.timings,
  });
  const server = http.createServer((req, res) => {
    proc.debugDomainsHandler(req, res).then((done) => {
      if (done) return;
      const path = (req.url ?? '/').split('?')[0];
      const why = path === '/readyz' ? proc.notReady() : undefined;
      if (path === '/readyz' || path === '/healthz') res.writeHead(why ? 503 : 200).end(why ?? 'ok');
      else res.writeHead(404).end();
    }, (err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  await proc.start(ac.signal);
  server.closeAllConnections();
  server.close();
  await executor.close();
  await client.shutdown();
}

if (require.main === module) {
  run(JSON.parse(process.argv[2] ?? '{}') as FailoverAgentArgs).then(() => process.exit(0), (err) => {
    process.stderr.write(`failover-agent: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
