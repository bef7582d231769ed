/**
 * Monitor: every intervalMs, samples the host and each VM the agent runs (cpu, memory, disk and
 * network I/O from libvirt's bulk stats) into Cassandra, and integrates accounting per VM per
 * hour, flushed every accountingFlushMs. Works on the test driver too, which reports only
 * state in bulk stats: cpu time and memory then come from virDomainGetInfo.
 */
import type { Logger } from 'pino';
import { Periodic, systemClock, type Clock } from '../../runtime';
import type { LibvirtConnection, TypedValue } from '../../libvirt';
import { domainStateName } from '../../libvirt/constants';
import type { PoolCache } from '../host/pools';
import type { DomainRegistry } from '../vm/registry';
import { UsageAccumulator, hourOf } from './accounting';
import type { HostSample, MetricsStore, VmSample } from '../../store/samples';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export interface MonitorOptions {
  host: string;
  /** the host's current libvirt connection */
  conn: () => LibvirtConnection;
  pools: PoolCache;
  pool: string;
  registry: DomainRegistry;
  metrics: MetricsStore;
  clock?: Clock;
  /** random source spreading the first sample; default Math.random */
  random?: () => number;
  /** default 10 000 ms */
  intervalMs?: number;
  /** default 60 000 ms */
  accountingFlushMs?: number;
  logger?: Logger;
}

interface Counters {
  ts: number;
  cpuTimeNs: number;
  rd: number;
  wr: number;
  rx: number;
  tx: number;
}

/** Sums stats fields matching e.g. /^block\.\d+\.rd\.bytes$/. */
function sum(stats: Record<string, TypedValue>, re: RegExp): number {
  let s = 0;
  for (const [k, v] of Object.entries(stats)) if (typeof v === 'number' && re.test(k)) s += v;
  return s;
}

const rate = (d: number, secs: number) => (secs > 0 && d > 0 ? d / secs : 0);

export class Monitor {
  private readonly clock: Clock;
  private readonly prev = new Map<string, Counters>();
  readonly usage = new UsageAccumulator();
  private lastFlush: number;
  samples = 0;

  private readonly periodic: Periodic;

  constructor(private readonly o: MonitorOptions) {
    this.clock = o.clock ?? systemClock;
    this.lastFlush = this.clock.now();
    this.periodic = new Periodic({
      // the first sample at a random point of the interval spreads the hosts of one process
      name: 'monitor', periodMs: o.intervalMs ?? 10_000, first: { min: 0, max: 1 }, schedule: 'rate',
      clock: this.clock, random: o.random, logger: o.logger, errorMessage: 'monitoring sample failed',
      run: async () => {
        await this.sample();
        if (this.clock.now() - this.lastFlush >= (this.o.accountingFlushMs ?? 60_000)) await this.flush();
      },
    });
  }

  /** Samples every intervalMs until `signal` aborts, then flushes the accounting. */
  async start(signal: AbortSignal): Promise<void> {
    await this.periodic.start(signal);
    await this.flush().catch(() => undefined);
  }

  /** Takes one sample of the host and its VMs and writes it. */
  async sample(): Promise<{ host: HostSample; vms: VmSample[] }> {
    const { registry, host } = this.o;
    const conn = this.o.conn();
    const now = this.clock.now();
    const records = await conn.getAllDomainStats(['state', 'cpu-total', 'balloon', 'block', 'interface']).catch(() => []);
    const byName = new Map(records.map((r) => [r.name, r.stats]));
    const vms: VmSample[] = [];
    const seen = new Set<string>();
    for (const vm of registry.list()) {
      const stats = byName.get(vm.domain);
      if (!stats) continue;
      seen.add(vm.uid);
      let state = domainStateName(Number(stats['state.state'] ?? 0));
      let cpuTimeNs = typeof stats['cpu.time'] === 'number' ? (stats['cpu.time'] as number) : undefined;
      let memoryBytes = typeof stats['balloon.current'] === 'number' ? (stats['balloon.current'] as number) * 1024 : undefined;
      if (cpuTimeNs === undefined) {
        const dom = await conn.lookupDomainByName(vm.domain);
        if (!dom) continue;
        try {
          const info = await dom.getInfo();
          cpuTimeNs = info.cpuTimeNs;
          memoryBytes ??= info.memoryKiB * 1024;
          state = info.state;
        } finally {
          dom.free();
        }
      }
      const running = state === 'running' || state === 'blocked';
      const cur: Counters = {
        ts: now, cpuTimeNs: cpuTimeNs ?? 0,
        rd: sum(stats, /^block\.\d+\.rd\.bytes$/), wr: sum(stats, /^block\.\d+\.wr\.bytes$/),
        rx: sum(stats, /^net\.\d+\.rx\.bytes$/), tx: sum(stats, /^net\.\d+\.tx\.bytes$/),
      };
      const p = this.prev.get(vm.uid);
      this.prev.set(vm.uid, cur);
      const secs = p ? (now - p.ts) / 1000 : 0;
      const dCpu = p && running ? Math.max(0, cur.cpuTimeNs - p.cpuTimeNs) / 1e9 : 0;
      const sample: VmSample = {
        namespace: vm.namespace, name: vm.name, uid: vm.uid, host, ts: now, state, vcpus: vm.vcpus,
        cpuCores: secs > 0 ? dCpu / secs : 0, cpuTimeNs: cur.cpuTimeNs, memoryBytes: running ? memoryBytes ?? vm.memoryBytes : 0,
        diskReadBps: p ? rate(cur.rd - p.rd, secs) : 0, diskWriteBps: p ? rate(cur.wr - p.wr, secs) : 0,
        netRxBps: p ? rate(cur.rx - p.rx, secs) : 0, netTxBps: p ? rate(cur.tx - p.tx, secs) : 0,
      };
      vms.push(sample);
      if (p) {
        this.usage.add(vm, p.ts, now, { cpuSeconds: dCpu, memoryMiB: vm.memoryBytes / MiB, diskGiB: vm.diskBytes / GiB, running });
      }
    }
    for (const uid of this.prev.keys()) if (!seen.has(uid)) this.prev.delete(uid);

    const pool = await this.o.pools.get(this.o.pool);
    const poolInfo = pool ? await pool.getInfo().catch(() => undefined) : undefined;
    const node = await conn.getNodeInfo();
    const hostSample: HostSample = {
      host, ts: now, vms: registry.size, running: vms.filter((v) => v.state === 'running').length, cpus: node.cpus,
      cpuCores: vms.reduce((s, v) => s + v.cpuCores, 0), memoryBytes: node.memoryKiB * 1024,
      memoryUsedBytes: vms.reduce((s, v) => s + v.memoryBytes, 0),
      storageBytes: poolInfo?.capacityBytes ?? 0, storageUsedBytes: poolInfo?.allocationBytes ?? 0,
      diskReadBps: vms.reduce((s, v) => s + v.diskReadBps, 0), diskWriteBps: vms.reduce((s, v) => s + v.diskWriteBps, 0),
      netRxBps: vms.reduce((s, v) => s + v.netRxBps, 0), netTxBps: vms.reduce((s, v) => s + v.netTxBps, 0),
    };
    await Promise.all([this.o.metrics.writeHostSample(hostSample), ...vms.map((v) => this.o.metrics.writeVmSample(v))]);
    this.samples++;
    return { host: hostSample, vms };
  }

  /** Writes the accounting rows that changed (loading totals an earlier agent process left first). */
  async flush(): Promise<number> {
    const now = this.clock.now();
    const { metrics, host } = this.o;
    await Promise.all(this.usage.unseeded().map(async (r) => this.usage.seed(r.uid, r.hour, await metrics.readUsage(host, r))));
    const rows = this.usage.takeDirty();
    if (rows.length > 0) await metrics.writeUsage(host, rows, now);
    this.usage.prune(hourOf(now));
    this.lastFlush = now;
    return rows.length;
  }
}
