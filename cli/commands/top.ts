// `stratus top hosts` and `stratus top vms`: the latest monitoring samples pushed by the agents.

import { Command } from 'commander';
import type { CommandRunner } from '../context';
import { formatTable, toJson, toYaml } from '../output';

const BASE = '/apis/metrics.stratuslab.eu/v1alpha1';

interface HostSample {
  host: string; ts: number; vms: number; running: number; cpus: number; cpuCores: number; memoryBytes: number; memoryUsedBytes: number;
  storageBytes: number; storageUsedBytes: number; diskReadBps: number; diskWriteBps: number; netRxBps: number; netTxBps: number;
}
interface VmSample {
  namespace: string; name: string; host: string; ts: number; state: string; vcpus: number; cpuCores: number; memoryBytes: number;
  diskReadBps: number; diskWriteBps: number; netRxBps: number; netTxBps: number;
}

/** 1536 → "1.5Ki" style, with one decimal below 10. */
export function human(n: number, suffix = ''): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}${suffix}`;
}

function pct(a: number, b: number): string {
  return b > 0 ? `${Math.round((a / b) * 100)}%` : '-';
}

export function register(program: Command, run: CommandRunner): void {
  const top = program.command('top').description('Show the latest resource use of hosts or VMs (pushed by the agents)');
  top.command('hosts').description('CPU, memory, storage, disk and network use per host')
    .action(async (_o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      const format = ctx.output(['json', 'yaml']);
      const list = await ctx.client.get<{ items: HostSample[] }>(`${BASE}/hosts`);
      if (format.type === 'json') { ctx.out(toJson(list)); return 0; }
      if (format.type === 'yaml') { ctx.out(toYaml(list)); return 0; }
      const rows = list.items.map((h) => [
        h.host, `${h.running}/${h.vms}`, h.cpuCores.toFixed(2), pct(h.cpuCores, h.cpus), human(h.memoryUsedBytes), pct(h.memoryUsedBytes, h.memoryBytes),
        human(h.storageUsedBytes), pct(h.storageUsedBytes, h.storageBytes), `${human(h.diskReadBps, 'B/s')}/${human(h.diskWriteBps, 'B/s')}`,
        `${human(h.netRxBps, 'B/s')}/${human(h.netTxBps, 'B/s')}`,
      ]);
      ctx.out(rows.length ? formatTable(['HOST', 'RUNNING/VMS', 'CPU(cores)', 'CPU%', 'MEMORY', 'MEMORY%', 'STORAGE', 'STORAGE%', 'DISK R/W', 'NET RX/TX'], rows) : 'No host samples found.\n');
      return 0;
    }));
  top.command('vms').alias('vm').description('CPU, memory, disk and network use per VM')
    .action(async (_o: unknown, cmd: Command) => run(cmd, async (ctx) => {
      const format = ctx.output(['json', 'yaml']);
      const path = ctx.allNamespaces ? `${BASE}/virtualmachines` : `${BASE}/namespaces/${encodeURIComponent(ctx.namespace)}/virtualmachines`;
      const list = await ctx.client.get<{ items: VmSample[] }>(path);
      if (format.type === 'json') { ctx.out(toJson(list)); return 0; }
      if (format.type === 'yaml') { ctx.out(toYaml(list)); return 0; }
      const rows = list.items.map((v) => [
        ...(ctx.allNamespaces ? [v.namespace] : []), v.name, v.host, v.state, v.cpuCores.toFixed(2), human(v.memoryBytes),
        `${human(v.diskReadBps, 'B/s')}/${human(v.diskWriteBps, 'B/s')}`, `${human(v.netRxBps, 'B/s')}/${human(v.netTxBps, 'B/s')}`,
      ]);
      const headers = [...(ctx.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'HOST', 'STATE', 'CPU(cores)', 'MEMORY', 'DISK R/W', 'NET RX/TX'];
      ctx.out(rows.length ? formatTable(headers, rows) : `No VM samples found in ${ctx.allNamespaces ? 'any project' : `project ${ctx.namespace}`}.\n`);
      return 0;
    }));
}
