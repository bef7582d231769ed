/**
 * Monitoring samples and accounting in Cassandra (tables of store migration 3): writes for the
 * agents, and the queries the API and `stratus top` / `stratus usage` serve.
 *
 *   host_samples        ((host, day), ts DESC)           per host, 7-day TTL by default
 *   host_samples_latest (host)                           newest per host (1 h TTL)
 *   vm_samples          ((namespace, name, day), ts DESC) per VM, 7-day TTL by default
 *   vm_samples_latest   ((namespace), name)               newest per VM of a project (1 h TTL)
 *   usage_hourly        ((namespace, day), hour, name, uid, host)  running totals per VM per hour
 */
import { types, type Client } from 'cassandra-driver';
import { allRows } from './paging';

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

/** Which VM incarnation a usage row is about. */
export interface UsageIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export interface UsageTotals {
  cpuSeconds: number;
  memoryMiBSeconds: number;
  diskGiBSeconds: number;
  runningSeconds: number;
}

export interface UsageRow extends UsageIdentity, UsageTotals {
  /** start of the hour, ms */
  hour: number;
}



export interface HostSample {
  host: string;
  /** ms since the epoch */
  ts: number;
  vms: number;
  running: number;
  cpus: number;
  /** CPU used by the host's VMs, in cores */
  cpuCores: number;
  memoryBytes: number;
  /** memory of the running VMs */
  memoryUsedBytes: number;
  storageBytes: number;
  storageUsedBytes: number;
  diskReadBps: number;
  diskWriteBps: number;
  netRxBps: number;
  netTxBps: number;
}

export interface VmSample {
  namespace: string;
  name: string;
  uid: string;
  host: string;
  ts: number;
  state: string;
  vcpus: number;
  cpuCores: number;
  cpuTimeNs: number;
  memoryBytes: number;
  diskReadBps: number;
  diskWriteBps: number;
  netRxBps: number;
  netTxBps: number;
}

/** One line of a usage report: totals over the range, per VM (and per hour with groupBy 'hour'). */
export interface UsageReportRow extends UsageTotals {
  namespace: string;
  name: string;
  uid: string;
  /** ISO start of the hour (groupBy 'hour' only) */
  hour?: string;
}

export interface MetricsStoreOptions {
  client: Client;
  keyspace: string;
  /** retention of samples, seconds; default 7 days */
  sampleTtlSec?: number;
  /** retention of accounting rows, seconds; default 400 days */
  usageTtlSec?: number;
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);
const num = (v: unknown) => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : Number(String(v)));
const long = (n: number) => types.Long.fromNumber(Math.round(n));
const ms = (v: unknown) => (v instanceof Date ? v.getTime() : 0);

const HOST_COLS = 'vms, running, cpus, cpu_cores, memory_bytes, memory_used_bytes, storage_bytes, storage_used_bytes, disk_read_bps, disk_write_bps, net_rx_bps, net_tx_bps';
const VM_COLS = 'uid, host, state, vcpus, cpu_cores, cpu_time_ns, memory_bytes, disk_read_bps, disk_write_bps, net_rx_bps, net_tx_bps';

function hostValues(s: HostSample): unknown[] {
  return [s.vms, s.running, s.cpus, s.cpuCores, long(s.memoryBytes), long(s.memoryUsedBytes), long(s.storageBytes), long(s.storageUsedBytes),
    s.diskReadBps, s.diskWriteBps, s.netRxBps, s.netTxBps];
}

function vmValues(s: VmSample): unknown[] {
  return [s.uid, s.host, s.state, s.vcpus, s.cpuCores, long(s.cpuTimeNs), long(s.memoryBytes), s.diskReadBps, s.diskWriteBps, s.netRxBps, s.netTxBps];
}

function hostRow(r: types.Row): HostSample {
  return {
    host: r['host'], ts: ms(r['ts']), vms: num(r['vms']), running: num(r['running']), cpus: num(r['cpus']), cpuCores: num(r['cpu_cores']),
    memoryBytes: num(r['memory_bytes']), memoryUsedBytes: num(r['memory_used_bytes']), storageBytes: num(r['storage_bytes']),
    storageUsedBytes: num(r['storage_used_bytes']), diskReadBps: num(r['disk_read_bps']), diskWriteBps: num(r['disk_write_bps']),
    netRxBps: num(r['net_rx_bps']), netTxBps: num(r['net_tx_bps']),
  };
}

function vmRow(r: types.Row): VmSample {
  return {
    namespace: r['namespace'], name: r['name'], uid: r['uid'] ?? '', host: r['host'] ?? '', ts: ms(r['ts']), state: r['state'] ?? '',
    vcpus: num(r['vcpus']), cpuCores: num(r['cpu_cores']), cpuTimeNs: num(r['cpu_time_ns']), memoryBytes: num(r['memory_bytes']),
    diskReadBps: num(r['disk_read_bps']), diskWriteBps: num(r['disk_write_bps']), netRxBps: num(r['net_rx_bps']), netTxBps: num(r['net_tx_bps']),
  };
}

export class MetricsStore {
  private readonly ks: string;
  private readonly sampleTtl: number;
  private readonly usageTtl: number;

  constructor(private readonly o: MetricsStoreOptions) {
    this.ks = o.keyspace;
    this.sampleTtl = o.sampleTtlSec ?? 7 * 86400;
    this.usageTtl = o.usageTtlSec ?? 400 * 86400;
  }

  private get client(): Client {
    return this.o.client;
  }

  // ---- writes (agents) ----

  async writeHostSample(s: HostSample): Promise<void> {
    const v = hostValues(s);
    const marks = v.map(() => '?').join(', ');
    await Promise.all([
      this.client.execute(`INSERT INTO ${this.ks}.host_samples (host, day, ts, ${HOST_COLS}) VALUES (?, ?, ?, ${marks}) USING TTL ?`,
        [s.host, dayOf(s.ts), new Date(s.ts), ...v, this.sampleTtl]),
      this.client.execute(`INSERT INTO ${this.ks}.host_samples_latest (host, ts, ${HOST_COLS}) VALUES (?, ?, ${marks}) USING TTL ?`,
        [s.host, new Date(s.ts), ...v, 3600]),
    ]);
  }

  async writeVmSample(s: VmSample): Promise<void> {
    const v = vmValues(s);
    const marks = v.map(() => '?').join(', ');
    await Promise.all([
      this.client.execute(`INSERT INTO ${this.ks}.vm_samples (namespace, name, day, ts, ${VM_COLS}) VALUES (?, ?, ?, ?, ${marks}) USING TTL ?`,
        [s.namespace, s.name, dayOf(s.ts), new Date(s.ts), ...v, this.sampleTtl]),
      this.client.execute(`INSERT INTO ${this.ks}.vm_samples_latest (namespace, name, ts, ${VM_COLS}) VALUES (?, ?, ?, ${marks}) USING TTL ?`,
        [s.namespace, s.name, new Date(s.ts), ...v, 3600]),
    ]);
  }

  /** Writes running totals (idempotent: the same row is overwritten as the hour goes on). */
  async writeUsage(host: string, rows: UsageRow[], now: number): Promise<void> {
    await Promise.all(rows.map((r) => this.client.execute(
      `INSERT INTO ${this.ks}.usage_hourly (namespace, day, hour, name, uid, host, cpu_seconds, memory_mib_seconds, disk_gib_seconds, running_seconds, updated)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      [r.namespace, dayOf(r.hour), new Date(r.hour), r.name, r.uid, host, r.cpuSeconds, r.memoryMiBSeconds, r.diskGiBSeconds, r.runningSeconds, new Date(now), this.usageTtl],
    )));
  }

  /** The totals this host stored earlier for one VM and hour (after an agent restart). */
  async readUsage(host: string, row: Pick<UsageRow, 'namespace' | 'name' | 'uid' | 'hour'>): Promise<UsageTotals | undefined> {
    const rs = await this.client.execute(
      `SELECT cpu_seconds, memory_mib_seconds, disk_gib_seconds, running_seconds FROM ${this.ks}.usage_hourly
       WHERE namespace = ? AND day = ? AND hour = ? AND name = ? AND uid = ? AND host = ?`,
      [row.namespace, dayOf(row.hour), new Date(row.hour), row.name, row.uid, host],
    );
    const r = rs.first();
    return r ? { cpuSeconds: num(r['cpu_seconds']), memoryMiBSeconds: num(r['memory_mib_seconds']), diskGiBSeconds: num(r['disk_gib_seconds']), runningSeconds: num(r['running_seconds']) } : undefined;
  }

  // ---- queries (API, CLI) ----

  /** The newest sample of every host that reported in the last hour (`stratus top hosts`). */
  async topHosts(): Promise<HostSample[]> {
    const rows = await allRows(this.client, `SELECT host, ts, ${HOST_COLS} FROM ${this.ks}.host_samples_latest`, [], { fetchSize: 1000 });
    return rows.map(hostRow).sort((a, b) => a.host.localeCompare(b.host));
  }

  /** The newest sample of every VM of a project, or of every project (`stratus top vms`). */
  async topVms(namespace?: string): Promise<VmSample[]> {
    const rows = namespace === undefined
      ? await allRows(this.client, `SELECT namespace, name, ts, ${VM_COLS} FROM ${this.ks}.vm_samples_latest`, [], { fetchSize: 1000 })
      : await allRows(this.client, `SELECT namespace, name, ts, ${VM_COLS} FROM ${this.ks}.vm_samples_latest WHERE namespace = ?`, [namespace], { fetchSize: 1000 });
    return rows.map(vmRow).sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  /** A host's samples in [fromMs, toMs], newest first. */
  async hostSamples(host: string, fromMs: number, toMs: number, limit = 1000): Promise<HostSample[]> {
    const out: HostSample[] = [];
    for (let day = dayOf(toMs); day >= dayOf(fromMs) && out.length < limit; day--) {
      const rs = await this.client.execute(
        `SELECT host, ts, ${HOST_COLS} FROM ${this.ks}.host_samples WHERE host = ? AND day = ? AND ts >= ? AND ts <= ? LIMIT ?`,
        [host, day, new Date(fromMs), new Date(toMs), limit - out.length],
      );
      out.push(...rs.rows.map(hostRow));
    }
    return out;
  }

  /** A VM's samples in [fromMs, toMs], newest first. */
  async vmSamples(namespace: string, name: string, fromMs: number, toMs: number, limit = 1000): Promise<VmSample[]> {
    const out: VmSample[] = [];
    for (let day = dayOf(toMs); day >= dayOf(fromMs) && out.length < limit; day--) {
      const rs = await this.client.execute(
        `SELECT namespace, name, ts, ${VM_COLS} FROM ${this.ks}.vm_samples WHERE namespace = ? AND name = ? AND day = ? AND ts >= ? AND ts <= ? LIMIT ?`,
        [namespace, name, day, new Date(fromMs), new Date(toMs), limit - out.length],
      );
      out.push(...rs.rows.map(vmRow));
    }
    return out;
  }

  /**
   * Usage of a project's VMs in the hours that start in [fromMs, toMs) (`stratus usage`),
   * summed over hosts: per VM (default), or per VM and hour.
   */
  async usage(o: { namespace: string; fromMs: number; toMs: number; groupBy?: 'vm' | 'hour' }): Promise<UsageReportRow[]> {
    const from = Math.floor(o.fromMs / HOUR_MS) * HOUR_MS;
    const days: number[] = [];
    for (let d = dayOf(from); d <= dayOf(o.toMs - 1); d++) days.push(d);
    if (days.length > 3660) throw new RangeError('usage range too long (at most 10 years)');
    const rows: types.Row[] = [];
    for (let i = 0; i < days.length; i += 16) {
      const part = await Promise.all(days.slice(i, i + 16).map((day) => allRows(this.client,
        `SELECT hour, name, uid, host, cpu_seconds, memory_mib_seconds, disk_gib_seconds, running_seconds FROM ${this.ks}.usage_hourly
         WHERE namespace = ? AND day = ? AND hour >= ? AND hour < ?`,
        [o.namespace, day, new Date(from), new Date(o.toMs)], { fetchSize: 5000 },
      )));
      rows.push(...part.flat());
    }
    const acc = new Map<string, UsageReportRow>();
    for (const r of rows) {
      const hour = ms(r['hour']);
      const id = o.groupBy === 'hour' ? `${r['uid']}@${hour}` : `${r['uid']}`;
      let a = acc.get(id);
      if (!a) {
        a = { namespace: o.namespace, name: r['name'], uid: r['uid'], cpuSeconds: 0, memoryMiBSeconds: 0, diskGiBSeconds: 0, runningSeconds: 0 };
        if (o.groupBy === 'hour') a.hour = new Date(hour).toISOString();
        acc.set(id, a);
      }
      a.cpuSeconds += num(r['cpu_seconds']);
      a.memoryMiBSeconds += num(r['memory_mib_seconds']);
      a.diskGiBSeconds += num(r['disk_gib_seconds']);
      a.runningSeconds += num(r['running_seconds']);
    }
    return [...acc.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.hour ?? '').localeCompare(b.hour ?? ''));
  }
}
