// `stratus ssh` and `stratus scp` without I/O: the SSH endpoint of a VM (its port-22 forward on the
// hypervisor, else its address), the [user@]NAME[:path] arguments, and the ssh/scp command lines.

import * as path from 'node:path';
import { HOLLOW_HOST_LABEL } from '../kube/names';
import { CliError } from './errors/cli-error';
import { UsageError } from './errors/usage-error';

/** The user of the images Stratus builds (cloud-init's default user of Debian cloud images). */
export const DEFAULT_SSH_USER = 'debian';

/** What `stratus ssh` reads of a VM (status.interfaces and status.ip as the guest helper writes them). */
export interface SshVm {
  metadata: { name: string; namespace?: string; uid?: string };
  status?: {
    phase?: string;
    host?: string;
    ip?: string;
    /** addresses handed out on Networks (the scheduler writes them at bind time) */
    addresses?: Array<{ name: string; ipAddress: string }>;
    interfaces?: Array<{
      name?: string;
      ipAddress?: string;
      forwards?: Array<{ protocol?: string; port: number; hostIP?: string; hostPort: number }>;
    }>;
  };
}

export interface SshEndpoint {
  host: string;
  port: number;
  /** the name ssh files the VM's host key under: stratus-<uid>, whatever address or port it has */
  hostKeyAlias: string;
  /** how it was found, for -v */
  via: string;
}

/** What `stratus ssh` reads of the VM's Host, when it may read Hosts. */
export interface SshHost {
  metadata: { name: string; labels?: Record<string, string> };
}

/**
 * Where the guest's sshd is reached: the first forward of TCP port 22 (user-mode networking: a
 * port on the hypervisor's loopback), else the address of its first interface on a Network
 * (status.addresses: known before the guest boots), else status.ip, else an interface's address. Throws a
 * CliError (exit 1) saying what is missing when the VM is not running, runs on a hollow host
 * (libvirt's test driver: no guest at all) or has no address yet.
 */
export function sshEndpoint(vm: SshVm, host?: SshHost): SshEndpoint {
  const ref = `${vm.metadata.namespace ? `${vm.metadata.namespace}/` : ''}${vm.metadata.name}`;
  const phase = vm.status?.phase;
  if (phase !== 'Running') {
    const hint = phase === 'Stopped' || phase === 'Failed' ? `; start it with: stratus start ${vm.metadata.name}`
      : phase === 'Terminating' ? ': it is being deleted' : `; wait until it is Running: stratus get vm ${vm.metadata.name} -w`;
    throw new CliError(`VM ${ref} is not running (phase ${phase ?? 'unknown'})${hint}`);
  }
  if (host?.metadata.labels?.[HOLLOW_HOST_LABEL] === 'true') {
    throw new CliError(`VM ${ref} runs on hollow host ${host.metadata.name} (libvirt's test driver): it has no guest to log into`);
  }
  const hostKeyAlias = `stratus-${vm.metadata.uid ?? ref.replace('/', '.')}`;
  for (const i of vm.status?.interfaces ?? []) {
    const f = (i.forwards ?? []).find((x) => x.port === 22 && (x.protocol ?? 'TCP').toUpperCase() === 'TCP');
    if (f) return { host: f.hostIP || '127.0.0.1', port: f.hostPort, hostKeyAlias, via: `the forward of port 22 of interface ${i.name ?? '?'}` };
  }
  const onNetwork = vm.status?.addresses?.[0];
  if (onNetwork) return { host: onNetwork.ipAddress, port: 22, hostKeyAlias, via: `the address of interface ${onNetwork.name} (status.addresses)` };
  const ip = vm.status?.ip || vm.status?.interfaces?.find((i) => i.ipAddress)?.ipAddress;
  if (ip) return { host: ip, port: 22, hostKeyAlias, via: 'status.ip' };
  throw new CliError(`VM ${ref} has no address yet (no port forward nor IP in its status): the guest reports one once it has booted; try again in a few seconds`);
}

/** `[user@]NAME`, optionally `vm/NAME` (kubectl's TYPE/NAME). */
export function parseSshTarget(arg: string): { user?: string; name: string } {
  const at = arg.lastIndexOf('@');
  const user = at >= 0 ? arg.slice(0, at) : undefined;
  let name = at >= 0 ? arg.slice(at + 1) : arg;
  name = name.replace(/^(vm|vms|virtualmachine|virtualmachines)\//, '');
  if (user === '') throw new UsageError(`invalid target "${arg}": the user before @ is empty`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new UsageError(`invalid target "${arg}": expected [USER@]NAME with NAME a VM's name`);
  return { user, name };
}

/** A `stratus scp` argument: a local path, or `[user@]NAME:path` on a VM (as scp, a ':' after a '/' is local: ./a:b). */
export type CopyPath = { local: string } | { user?: string; name: string; path: string };

export function parseCopyPath(arg: string): CopyPath {
  const m = /^(?:([^@/:]+)@)?((?:vm\/)?[a-z0-9](?:[-a-z0-9]*[a-z0-9])?):(.*)$/.exec(arg);
  if (!m) return { local: arg };
  return { user: m[1], name: m[2].replace(/^vm\//, ''), path: m[3] };
}

export interface SshOptions {
  user: string;
  /** -i: the private key; none: ssh's own defaults and agent */
  identityFile?: string;
  /** where the host keys of VMs are kept (UserKnownHostsFile) */
  knownHostsFile: string;
  /** more `-o` options, e.g. BatchMode=yes */
  options?: string[];
}

/** ssh_config values are split on whitespace unless quoted. */
function configValue(v: string): string {
  return /\s/.test(v) ? `"${v}"` : v;
}

/**
 * The options both ssh and scp get: the user's own -o options first (ssh keeps the first value it
 * reads of each option, so theirs win), then key, host key alias, Stratus' known_hosts, trust on
 * first use.
 */
function commonArgs(e: SshEndpoint, o: SshOptions): string[] {
  return [
    ...(o.options ?? []).flatMap((x) => ['-o', x]),
    ...(o.identityFile ? ['-i', o.identityFile] : []),
    '-o', `HostKeyAlias=${e.hostKeyAlias}`,
    '-o', `UserKnownHostsFile=${configValue(o.knownHostsFile)}`,
    '-o', 'StrictHostKeyChecking=accept-new',
  ];
}

/** `ssh ... -- user@host [command...]`: `--` keeps the command's own flags away from ssh. */
export function sshArgs(e: SshEndpoint, o: SshOptions, command: string[] = []): string[] {
  return [...commonArgs(e, o), '-p', String(e.port), '--', `${o.user}@${e.host}`, ...command];
}

/** scp's host part: IPv6 addresses in brackets. */
function scpHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `scp ... -- SRC DST` with the VM side rewritten to user@host:path. */
export function scpArgs(e: SshEndpoint, o: SshOptions, src: CopyPath, dst: CopyPath, flags: { recursive?: boolean } = {}): string[] {
  const side = (p: CopyPath) => ('local' in p ? p.local : `${o.user}@${scpHost(e.host)}:${p.path}`);
  return [...commonArgs(e, o), '-P', String(e.port), ...(flags.recursive ? ['-r'] : []), '--', side(src), side(dst)];
}

/** The known_hosts file of VMs: beside the CLI config (~/.stratus/known_hosts). */
export function knownHostsFor(configPath: string): string {
  return path.join(path.dirname(configPath), 'known_hosts');
}

/** A command line for people (-v): arguments quoted for a POSIX shell where needed. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[-\w@%+=:,./]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
