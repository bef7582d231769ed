// A whole local cloud around real guests, for the end-to-end test and the benchmark of real VMs:
// a session libvirtd, a frontend, the controllers and a real agent (qemu), the guest image and a key.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { LibvirtConnection } from '../../libvirt';
import { freePort, REPO, startFrontend, stratus, type Frontend, type RunResult } from './frontend';
import { qemuUnavailable, startSessionLibvirtd, LIBVIRTD_UID, type SessionLibvirtd } from './libvirtd';
import { until } from './wait';

/** Why a real Debian guest cannot run here (for describeIfAvailable), or undefined. */
export function guestUnavailable(): string | undefined {
  const missing = qemuUnavailable(['dist/agents/main.js', 'dist/controllers/main.js', 'dist/api/main.js']);
  if (missing) return missing;
  try {
    execFileSync('sh', ['-c', 'command -v mmdebstrap && command -v xorriso'], { stdio: 'ignore' });
  } catch {
    return 'mmdebstrap and xorriso are needed to build the guest image and seeds (scripts/apt-packages.txt)';
  }
  return undefined;
}

/** The built guest image's folder (scripts/guest/build-image.sh: built once per machine, then reused). */
export function guestImage(): { dir: string; disk: string; sha256: string; kernel: string; initrd: string; cmdline: string } {
  const dir = execFileSync('bash', [path.join(REPO, 'scripts/guest/build-image.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 }).trim();
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'image.json'), 'utf8')) as { disk: string; sha256: string; kernel: string; initrd: string; cmdline: string };
  return { dir, disk: path.join(dir, meta.disk), sha256: meta.sha256, kernel: path.join(dir, meta.kernel), initrd: path.join(dir, meta.initrd), cmdline: meta.cmdline };
}

export const REAL_HOST = 'qemu-1';
export const PROJECT = 'demo';

export interface GuestRig {
  dir: string;
  fe: Frontend;
  libvirtd: SessionLibvirtd;
  /**
   * The state of domain `name` ('running', 'shutoff', ...) or undefined when there is none, on a
   * connection of its own (an idle connection without an event loop is closed by libvirtd's
   * keepalive after ~30 s, so none is kept open).
   */
  domainState(name: string): Promise<string | undefined>;
  /** the CLI's environment (config with the frontend, project demo, HOME with the SSH key) */
  env: Record<string, string>;
  /** the user's SSH key pair (HOME/.ssh/id_ed25519) */
  key: { private: string; public: string };
  /** runs the built CLI */
  cli(args: string[], input?: string): Promise<RunResult>;
  /** what the processes printed, for failure messages */
  logs(): string;
  /** writes manifests to a file and applies them with the CLI */
  apply(objects: object[]): Promise<RunResult>;
  close(): Promise<void>;
}

/**
 * Starts the rig and applies the project and the guest Image (`debian-12`). The agent is given the
 * virt type from the KVM probe's answer: `qemu` (TCG) here.
 */
export async function startGuestRig(prefix: string, opts: { virtType?: 'qemu' | 'kvm'; agentEnv?: Record<string, string> } = {}): Promise<GuestRig> {
  const image = guestImage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stratus-${prefix}-`));
  fs.chmodSync(dir, 0o755);
  const libvirtd = await startSessionLibvirtd(path.join(dir, 'libvirt'));
  const fe = await startFrontend(prefix);
  const home = path.join(fe.dir, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const keyFile = path.join(home, '.ssh', 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stratus-e2e', '-f', keyFile]);
  const config = path.join(fe.dir, 'config.yaml');
  fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: PROJECT }));
  const env = { STRATUS_CONFIG: config, HOME: home };

  const output: Record<string, string> = { controllers: '', agent: '' };
  const procs: ChildProcess[] = [];
  const launch = (name: string, args: string[], extra: Record<string, string>) => {
    const p = spawn(process.execPath, args, { env: { ...fe.env, STRATUS_LOG_LEVEL: 'info', ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (b) => { output[name] = (output[name] + String(b)).slice(-200_000); });
    p.stderr!.on('data', (b) => { output[name] = (output[name] + String(b)).slice(-200_000); });
    procs.push(p);
  };
  launch('controllers', [path.join(REPO, 'dist/controllers/main.js')], { STRATUS_CONTROLLERS_METRICS: `127.0.0.1:${await freePort()}`, STRATUS_WATCH_POLL_MS: '100' });
  launch('agent', [path.join(REPO, 'dist/agents/main.js'), '--host', REAL_HOST, '--libvirt-uri', libvirtd.uri, '--state-dir', libvirtd.stateDir,
    '--virt-type', opts.virtType ?? 'qemu', '--labels', 'stratus.dev/real=true', '--heartbeat-ms', '2000'], {
    STRATUS_WATCH_POLL_MS: '100', STRATUS_SHUTDOWN_GRACE_MS: '120000', STRATUS_AGENT_RESYNC_MS: '5000', ...opts.agentEnv,
  });
  const logs = () => Object.entries(output).map(([n, t]) => `--- ${n}:\n${t.slice(-4000)}`).join('\n');
  const cli = (args: string[], input?: string) => stratus(args, env, input);
  const apply = async (objects: object[]) => {
    const file = path.join(fe.dir, `apply-${Date.now()}.yaml`);
    fs.writeFileSync(file, objects.map((o) => YAML.stringify(o)).join('---\n'));
    return cli(['apply', '-f', file]);
  };
  const connect = () => until('a libvirt connection', () => LibvirtConnection.open(libvirtd.uri), { timeoutMs: 15_000, everyMs: 200 });
  const rig: GuestRig = {
    dir, fe, libvirtd, env,
    async domainState(name) {
      const conn = await connect();
      try {
        const dom = await conn.lookupDomainByName(name);
        if (!dom) return undefined;
        const { state } = await dom.getState();
        dom.free();
        return state;
      } finally {
        await conn.close().catch(() => undefined);
      }
    }, key: { private: keyFile, public: fs.readFileSync(`${keyFile}.pub`, 'utf8').trim() }, cli, logs, apply,
    async close() {
      for (const p of procs) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (p.exitCode === null) p.kill('SIGKILL');
      }
      const conn = await connect().catch(() => undefined);
      for (const d of (await conn?.listAllDomains().catch(() => [])) ?? []) {
        await d.destroy().catch(() => undefined);
        await d.undefine().catch(() => undefined);
        d.free();
      }
      await conn?.close().catch(() => undefined);
      await libvirtd.stop();
      await fe.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await until(`the Host ${REAL_HOST} to register`, async () => {
      const r = await cli(['get', 'host', REAL_HOST, '-o', 'json']);
      return r.code === 0 && JSON.parse(r.stdout).status?.heartbeatTime;
    }, { timeoutMs: 60_000, everyMs: 500, context: logs });
    const applied = await apply([
      { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: PROJECT }, spec: {} },
      debianImage(PROJECT, image),
    ]);
    if (applied.code !== 0) throw new Error(`apply: ${applied.stderr}`);
  } catch (err) {
    await rig.close();
    throw err;
  }
  return rig;
}

/** The Image `debian-12` of the built guest image, in project `namespace`. */
export function debianImage(namespace: string, image = guestImage()): object {
  return {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'debian-12', namespace },
    spec: { source: { path: image.disk, sha256: image.sha256 }, format: 'qcow2', kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline },
  };
}

/** A Debian VM on the real host with the rig's key, user data and a console password. */
export function debianVm(rig: GuestRig, name: string, opts: { userData?: string; runStrategy?: string; namespace?: string; memory?: string; networks?: object[] } = {}): object {
  return {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: opts.namespace ?? PROJECT },
    spec: {
      runStrategy: opts.runStrategy ?? 'Always', cpu: 1, memory: opts.memory ?? '1Gi',
      ...(opts.networks ? { networks: opts.networks } : {}),
      disks: [{ name: 'root', image: 'debian-12', size: '4Gi' }],
      placement: { hostSelector: { 'stratus.dev/real': 'true' } },
      cloudInit: { sshAuthorizedKeys: [rig.key.public], ...(opts.userData ? { userData: opts.userData } : {}) },
    },
  };
}

export { LIBVIRTD_UID };
