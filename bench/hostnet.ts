/**
 * Benchmark of the Linux host network backend (npm run bench:hostnet; needs root); prints one JSON
 * object. In a fresh network namespace per run (standing for a host with an underlay address),
 * for two states (one overlay network with 2 remotes; the same plus a nat network and a
 * firewalled port):
 *  - fresh: apply() from nothing to ready, p50/p95 over the runs;
 *  - noop: apply() of the same state again (reads only), p50/p95;
 *  - the commands (processes) each apply runs, and how many of them change something.
 * Run: npm run build && node dist/bench/hostnet.js [--runs 10]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { runIn, type RunOptions } from '../agents/network/exec';
import { bridgeConntrack } from '../agents/network/firewall-probe';
import { LinuxNetworkBackend } from '../agents/network/linux';
import type { HostNetworkState } from '../agents/network/types';
import { hostDeviceNames, macFor, tapName } from '../kube/networks';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};
const READ = /^(ip -d -j addr show|ip -j link show|bridge -j fdb show|sysctl -n |nft -j list )/;

const ov = hostDeviceNames('bench-overlay');
const nat = hostDeviceNames('bench-nat');
const OVERLAY: HostNetworkState = {
  networks: [{ uid: 'bench-overlay', key: 'bench/ov', mode: 'overlay', bridge: ov.bridge, cidr: '10.77.0.0/24', mtu: 1450, vxlan: { device: ov.vxlan, vni: 7701, local: '192.168.77.1', remotes: ['192.168.77.2', '192.168.77.3'] } }],
  ports: [],
};
const FULL: HostNetworkState = {
  networks: [...OVERLAY.networks, { uid: 'bench-nat', key: 'bench/nat', mode: 'nat', bridge: nat.bridge, cidr: '10.78.0.0/24', gateway: '10.78.0.1' }],
  ports: [{ tap: tapName('bench-vm', 0), mac: macFor('bench-vm', 0), address: '10.77.0.11', ingress: [{ protocol: 'tcp', ports: { from: 22, to: 22 }, cidrs: ['0.0.0.0/0'] }], egress: 'all' }],
};

interface Figures { p50ms: number; p95ms: number; commands: number; changingCommands: number }

/** `runs` times, in a fresh namespace each: apply(desired) from nothing, then again (a no-op). */
async function scenario(desired: HostNetworkState, runs: number, tag: string): Promise<{ fresh: Figures; noop: Figures; bridgeConntrack: boolean }> {
  const times = { fresh: [] as number[], noop: [] as number[] };
  const counts = { fresh: [0, 0], noop: [0, 0] };
  let conntrack = false;
  for (let i = 0; i < runs; i++) {
    const ns = `stratus-bench-${process.pid}-${tag}${i}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      // the underlay: an address for the VXLAN device's local end
      execFileSync('ip', ['-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
      execFileSync('ip', ['-n', ns, 'addr', 'add', '192.168.77.1/24', 'dev', 'u0']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'u0', 'up']);
      const calls: string[] = [];
      const run = (cmd: string, args: string[], opts?: RunOptions) => {
        calls.push([cmd, ...args].join(' '));
        return runIn(ns, cmd, args, opts);
      };
      // probed here: the agent probes once per process, not per apply
      conntrack = await bridgeConntrack({ netns: ns });
      const backend = new LinuxNetworkBackend({ netns: ns, run, conntrack });
      for (const phase of ['fresh', 'noop'] as const) {
        calls.length = 0;
        const t0 = performance.now();
        await backend.apply(desired);
        times[phase].push(performance.now() - t0);
        counts[phase] = [calls.length, calls.filter((c) => !READ.test(c)).length];
      }
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  }
  const figures = (phase: 'fresh' | 'noop'): Figures => ({ p50ms: pct(times[phase], 50), p95ms: pct(times[phase], 95), commands: counts[phase][0], changingCommands: counts[phase][1] });
  return { fresh: figures('fresh'), noop: figures('noop'), bridgeConntrack: conntrack };
}

async function main(): Promise<void> {
  // `npm run bench` runs every benchmark: without root this one reports why it did not run
  if (process.getuid?.() !== 0) {
    process.stdout.write(JSON.stringify({ skipped: 'needs root (it creates network namespaces)' }) + '\n');
    return;
  }
  const runs = arg('runs', 10);
  const overlay = await scenario(OVERLAY, runs, 'o');
  const full = await scenario(FULL, runs, 'f');
  process.stdout.write(JSON.stringify({
    runs,
    bridgeConntrack: full.bridgeConntrack,
    overlay: { state: '1 overlay network (bridge + VXLAN, 2 remotes), no ports', fresh: overlay.fresh, noop: overlay.noop },
    full: { state: '1 overlay network + 1 nat network + 1 firewalled port', fresh: full.fresh, noop: full.noop },
  }, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
