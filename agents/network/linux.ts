/**
 * The host network backend of Linux hosts: bridges (stb-), VXLAN devices (stx-), VLAN
 * sub-interfaces (stv-), table `ip stratus-nat` and table `bridge stratus-fw`, converged with
 * iproute2 and nft. Reads first, then runs only what differs: an apply that changes nothing runs
 * read commands only. Anything without a Stratus prefix is left alone.
 */
import type { Logger } from 'pino';
import { HostNetworkError, type HostNetworkFailure } from '../errors/host-network';
import { runIn, type RunOptions } from './exec';
import { firewallRuleset, FIREWALL_TABLE } from './firewall';
import { bridgeConntrack } from './firewall-probe';
import { normalizeNftListing, parseFloods, parseLinks, type ObservedHost } from './linux-observe';
import { planDevices, type Step } from './linux-plan';
import { NAT_TABLE, natRuleset } from './nat-ruleset';
import type { HostNetworkBackend, HostNetworkState } from './types';

export type CommandRunner = (cmd: string, args: string[], opts?: RunOptions) => Promise<{ stdout: string }>;

export interface LinuxNetworkBackendOptions {
  /** run every command inside this network namespace (tests); default the agent's own */
  netns?: string;
  /** host interfaces that bridge-mode networks may enslave; default none (no bridge mode) */
  uplinks?: string[];
  logger?: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** runs one command; default runIn(netns, …). Tests wrap it to see which commands run. */
  run?: CommandRunner;
  /** whether the kernel tracks bridged connections; default probed once, on the first apply with ports */
  conntrack?: boolean;
  /** the uid owning the VM taps it creates: the user qemu runs as (a session libvirtd opens them); default 0 */
  tapOwner?: number;
}

type Table = { family: 'ip' | 'bridge'; name: string };
const NAT: Table = { family: 'ip', name: NAT_TABLE };
const FW: Table = { family: 'bridge', name: FIREWALL_TABLE };

export class LinuxNetworkBackend implements HostNetworkBackend {
  readonly name = 'linux' as const;
  private readonly run: CommandRunner;
  private readonly uplinks: string[];
  private readonly netns?: string;
  private readonly log?: LinuxNetworkBackendOptions['logger'];
  private conntrack?: Promise<boolean>;
  /** what this backend last loaded into each table, and how the kernel listed it right after */
  private readonly loaded = new Map<string, { text: string; listing: string }>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tapOwner: number;

  constructor(opts: LinuxNetworkBackendOptions = {}) {
    this.netns = opts.netns;
    this.tapOwner = opts.tapOwner ?? 0;
    this.uplinks = [...(opts.uplinks ?? [])];
    this.log = opts.logger;
    this.run = opts.run ?? ((cmd, args, o) => runIn(opts.netns, cmd, args, o));
    if (opts.conntrack !== undefined) this.conntrack = Promise.resolve(opts.conntrack);
  }

  async capabilities(): Promise<{ modes: Array<'nat' | 'bridge' | 'overlay'>; interfaces: string[] }> {
    const links = parseLinks((await this.run('ip', ['-j', 'link', 'show'])).stdout);
    const interfaces = this.uplinks.filter((u) => links.has(u));
    return { modes: interfaces.length > 0 ? ['nat', 'overlay', 'bridge'] : ['nat', 'overlay'], interfaces };
  }

  /** One apply at a time: each reads the host afresh after the previous one finished. */
  apply(state: HostNetworkState): Promise<void> {
    const next = this.queue.then(() => this.converge(state));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async converge(state: HostNetworkState): Promise<void> {
    const failures: HostNetworkFailure[] = [];
    let changes = 0;
    const exec = async (steps: Step[]) => {
      changes += steps.length;
      await this.runSteps(steps);
    };

    const observed = await this.observe(state.networks.some((n) => n.mode === 'nat'));
    const taps = state.ports.flatMap((p) => (p.bridge ? [{ tap: p.tap, bridge: p.bridge }] : []));
    const plan = planDevices(state.networks, observed, this.uplinks, taps, this.tapOwner);
    try {
      await exec(plan.cleanup);
    } catch (e) {
      failures.push({ message: (e as Error).message });
    }
    for (const p of plan.networks) {
      if (p.problem) {
        failures.push({ network: p.key, message: p.problem });
        continue;
      }
      try {
        await exec(p.steps);
      } catch (e) {
        failures.push({ network: p.key, message: (e as Error).message });
      }
    }

    try {
      // never turned off again: other parts of the host may route too
      if (plan.nat.length > 0 && observed.ipForward === false) {
        changes++;
        await this.run('sysctl', ['-w', 'net.ipv4.ip_forward=1']);
      }
      if (await this.convergeTable(NAT, natRuleset(plan.nat))) changes++;
    } catch (e) {
      failures.push({ message: `nat: ${(e as Error).message}` });
    }
    try {
      const rules = state.ports.length > 0 ? firewallRuleset(state.ports, { conntrack: await this.probeConntrack() }) : undefined;
      if (await this.convergeTable(FW, rules)) changes++;
    } catch (e) {
      failures.push({ message: `firewall: ${(e as Error).message}` });
    }

    if (changes > 0) this.log?.info({ networks: state.networks.length, ports: state.ports.length, changes, failures: failures.length }, 'host networks converged');
    if (failures.length > 0) throw new HostNetworkError(failures);
  }

  private async observe(nat: boolean): Promise<ObservedHost> {
    const links = parseLinks((await this.run('ip', ['-d', '-j', 'addr', 'show'])).stdout);
    const hasVxlan = [...links.keys()].some((n) => n.startsWith('stx-'));
    const floods = hasVxlan ? parseFloods((await this.run('bridge', ['-j', 'fdb', 'show'])).stdout) : new Map<string, Set<string>>();
    const ipForward = nat ? (await this.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim() === '1' : undefined;
    return { links, floods, ipForward };
  }

  private probeConntrack(): Promise<boolean> {
    if (!this.conntrack) {
      const probe = bridgeConntrack({ netns: this.netns });
      this.conntrack = probe;
      probe.catch(() => (this.conntrack = undefined));
    }
    return this.conntrack;
  }

  /** Consecutive commands of one tool go as one `-batch` (one process instead of many). */
  private async runSteps(steps: Step[]): Promise<void> {
    for (let i = 0; i < steps.length; ) {
      let j = i + 1;
      while (j < steps.length && steps[j].tool === steps[i].tool) j++;
      const group = steps.slice(i, j);
      for (const s of group) this.log?.debug({ command: [s.tool, ...s.args].join(' ') }, 'host network change');
      if (group.length === 1) await this.run(group[0].tool, group[0].args);
      else await this.run(group[0].tool, ['-batch', '-'], { input: group.map((s) => s.args.join(' ')).join('\n') + '\n' });
      i = j;
    }
  }

  /** The table as the kernel lists it (normalized), or undefined when there is none. */
  private async listTable(t: Table): Promise<string | undefined> {
    try {
      return normalizeNftListing((await this.run('nft', ['-j', 'list', 'table', t.family, t.name])).stdout);
    } catch (e) {
      if (/No such file or directory/.test((e as Error).message)) return undefined;
      throw e;
    }
  }

  /**
   * Loads `text` (a whole-table transaction) unless the table already holds exactly what this
   * backend last loaded; removes the table when `text` is undefined. True when it changed something.
   */
  private async convergeTable(t: Table, text: string | undefined): Promise<boolean> {
    const id = `${t.family} ${t.name}`;
    const listing = await this.listTable(t);
    if (text === undefined) {
      this.loaded.delete(id);
      if (listing === undefined) return false;
      await this.run('nft', ['delete', 'table', t.family, t.name]);
      return true;
    }
    const last = this.loaded.get(id);
    if (last && last.text === text && last.listing === listing) return false;
    this.loaded.delete(id);
    await this.run('nft', ['-f', '-'], { input: text });
    const now = await this.listTable(t);
    if (now !== undefined) this.loaded.set(id, { text, listing: now });
    return true;
  }
}
