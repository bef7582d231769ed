/**
 * A real VM end to end: qemu with TCG (no KVM here) under a session libvirtd run as an
 * unprivileged user, the built stratus-agent process (dist/agents/main.js), a frontend process
 * and the built CLI. The guest is the tiny kernel + busybox initramfs that scripts/guest/build.sh
 * makes from Debian packages. A VM applied with the CLI reaches Running, its console log shows
 * the guest's line, Halted stops it, delete removes everything.
 * Needs qemu, libvirtd, root and a build: without them it fails in CI (CI=true) and skips with the
 * reason elsewhere.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { createCassandraClient, ObjectStore } from '../../store';
import { LibvirtConnection } from '../../libvirt';
import { REPO, startFrontend, stratus, type Frontend } from '../helpers/frontend';
import { cassandraContactPoints } from '../helpers/store';
import { describeIfAvailable } from '../helpers/prerequisites';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'qemu-e2e';
const NOBODY = 65534;

function canRunQemu(): string | undefined {
  const has = (cmd: string) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (scripts/apt-packages.txt: qemu-system-x86)';
  if (!has('libvirtd')) return 'libvirtd is not installed (scripts/apt-packages.txt: libvirt-daemon)';
  if (!has('setpriv') || process.getuid?.() !== 0) return 'a session libvirtd as an unprivileged user needs root and setpriv';
  if (!fs.existsSync(path.join(REPO, 'dist/agents/main.js'))) return 'dist/agents/main.js is missing (npm run build)';
  try {
    execFileSync('qemu-system-x86_64', ['-machine', 'pc,accel=tcg', '-display', 'none', '-nodefaults', '-S', '-version'], { stdio: 'ignore', timeout: 20000 });
  } catch (err) {
    return `qemu-system-x86_64 does not run here: ${String(err)}`;
  }
  return undefined;
}

describeIfAvailable('agent-vm.test.ts', canRunQemu())('a real VM on qemu (TCG)', () => {
  let dir: string;
  let libvirtd: ChildProcess;
  let agent: ChildProcess;
  let agentLog = '';
  let fe: Frontend;
  let env: Record<string, string>;
  let uri: string;
  let conn: LibvirtConnection;
  let client: ReturnType<typeof createCassandraClient>;
  let store: ObjectStore;

  /** polling options with the agent's log in the timeout error (what the agent did is the clue) */
  const within = (timeoutMs: number) => ({ timeoutMs, everyMs: 250, context: () => `agent log:\n${agentLog.slice(-3000)}` });

  /** The session libvirtd of an unprivileged user (root's "session" is the system daemon), and a connection to it. */
  async function startLibvirtd(): Promise<void> {
    const run = path.join(dir, 'run');
    const home = path.join(dir, 'home');
    libvirtd = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
      `HOME=${home}`, `XDG_RUNTIME_DIR=${run}`, `XDG_CONFIG_HOME=${home}/.config`, `XDG_CACHE_HOME=${home}/.cache`, `XDG_DATA_HOME=${home}/.local/share`,
      'libvirtd'], { stdio: 'ignore' });
    const sock = path.join(run, 'libvirt', 'libvirt-sock');
    uri = `qemu+unix:///session?socket=${sock}`;
    await until('libvirtd', async () => fs.existsSync(sock), within(20_000));
    conn = await until('a libvirt connection', () => LibvirtConnection.open(uri), within(10_000));
  }

  async function stopLibvirtd(): Promise<void> {
    await conn?.close().catch(() => undefined);
    if (libvirtd.exitCode !== null) return;
    const exited = new Promise((r) => libvirtd.once('exit', r));
    libvirtd.kill('SIGTERM');
    await exited;
  }

  async function hostCondition(type: string): Promise<{ status: string; reason?: string; message?: string } | undefined> {
    const h = await store.get({ kind: 'Host', namespace: '', name: HOST });
    return (h?.status?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === type);
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-qemu-'));
    fs.chmodSync(dir, 0o755);
    const guest = execFileSync('bash', [path.join(REPO, 'scripts/guest/build.sh'), path.join(REPO, '.stratus/guest')], { encoding: 'utf8' }).trim();
    for (const f of ['vmlinuz', 'initrd.img']) fs.copyFileSync(path.join(guest, f), path.join(dir, f));
    for (const d of ['run', 'home', 'state', 'state/console']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);

    await startLibvirtd();

    fe = await startFrontend('qemu');
    const config = path.join(fe.dir, 'config.yaml');
    fs.writeFileSync(config, YAML.stringify({ servers: [fe.url], namespace: 'demo' }));
    env = { STRATUS_CONFIG: config, HOME: fe.dir };
    client = createCassandraClient({ contactPoints: cassandraContactPoints() });
    await client.connect();
    store = new ObjectStore({ client, keyspace: fe.keyspace });
    await store.init();

    agent = spawn(process.execPath, [path.join(REPO, 'dist/agents/main.js'), '--host', HOST, '--libvirt-uri', uri, '--keyspace', fe.keyspace,
      '--cassandra', cassandraContactPoints().join(','), '--state-dir', path.join(dir, 'state'), '--virt-type', 'qemu', '--labels', 'e2e=qemu'], {
      env: { ...process.env, STRATUS_LOG_LEVEL: 'info', STRATUS_WATCH_POLL_MS: '100', STRATUS_SHUTDOWN_GRACE_MS: '3000', STRATUS_AGENT_RESYNC_MS: '5000', STRATUS_LIBVIRT_PROBE_MS: '500' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (b) => (agentLog += String(b)));
    agent.stderr!.on('data', (b) => (agentLog += String(b)));
    await until('the Host to register', async () => (await store.get({ kind: 'Host', namespace: '', name: HOST }))?.status?.heartbeatTime, within(30_000));
  }, 120_000);

  afterAll(async () => {
    if (process.env.STRATUS_TEST_LOG) process.stderr.write(agentLog);
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    if (conn) {
      for (const d of await conn.listAllDomains().catch(() => [])) {
        await d.destroy().catch(() => undefined);
        await d.undefine().catch(() => undefined);
        d.free();
      }
      await conn.close();
    }
    if (libvirtd) await stopLibvirtd();
    await client?.shutdown();
    await fe?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  function manifests(runStrategy: string): string {
    return [
      { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' }, spec: { quota: { vms: 5, cpu: 4, memory: '4Gi', storage: '10Gi' } } },
      {
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'tiny', namespace: 'demo' },
        spec: { kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), cmdline: 'console=ttyS0 panic=-1' },
      },
      {
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'tiny-1', namespace: 'demo' },
        spec: { runStrategy, cpu: 1, memory: '256Mi', disks: [{ name: 'boot', image: 'tiny' }] },
      },
    ].map((m) => YAML.stringify(m)).join('---\n');
  }

  async function apply(runStrategy: string): Promise<void> {
    const file = path.join(fe.dir, `tiny-${runStrategy}.yaml`);
    fs.writeFileSync(file, manifests(runStrategy));
    const r = await stratus(['apply', '-f', file], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }

  async function getVm(): Promise<any> {
    const r = await stratus(['get', 'vm', 'tiny-1', '-o', 'json'], env);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  }

  test('a VM applied with the CLI boots, logs the guest\'s line, runs on through a libvirtd restart, stops when Halted, and delete removes everything', async () => {
    await apply('Always');
    // Placement is another controller's job; here the test binds the VM as the scheduler would.
    await store.guaranteedUpdate(vmKey('demo', 'tiny-1'), (cur) => {
      cur.status = { ...(cur.status ?? {}), host: HOST, phase: 'Scheduled', conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled' }] };
      return cur;
    }, { status: true });

    const running = await until('Running', async () => {
      const o = await getVm();
      return o?.status?.phase === 'Running' ? o : undefined;
    }, within(60_000));
    expect(running.status.host).toBe(HOST);
    expect(running.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Running' });
    const log = running.status.consoleLog as string;
    expect(log).toBe(path.join(dir, 'state', 'console', 'demo.tiny-1.log'));
    const line = await until('the guest\'s line', async () => {
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      return /STRATUS-GUEST-OK[^\r\n]*/.exec(text)?.[0];
    }, within(90_000));
    expect(line).toMatch(/kernel=6\./);
    const dom = (await conn.lookupDomainByName('demo.tiny-1'))!;
    expect((await dom.getState()).state).toBe('running');
    expect(dom.uuid).toBe(running.status.domainUUID);
    dom.free();

    // libvirtd restarts under the running guest: the agent reports it, reconnects, and leaves the
    // guest alone (qemu keeps running; the new daemon finds it again).
    await stopLibvirtd();
    const down = await until('LibvirtConnected=False', async () => {
      const c = await hostCondition('LibvirtConnected');
      return c?.status === 'False' ? c : undefined;
    }, within(30_000));
    expect(down.reason).toMatch(/^(ConnectionLost|ConnectFailed)$/);
    await startLibvirtd();
    await until('LibvirtConnected=True', async () => (await hostCondition('LibvirtConnected'))?.status === 'True', within(30_000));
    const survived = (await conn.lookupDomainByName('demo.tiny-1'))!;
    expect((await survived.getState()).state).toBe('running');
    survived.free();
    const after = await getVm();
    expect(after.status).toMatchObject({ phase: 'Running', startTime: running.status.startTime });
    expect(await hostCondition('Fenced')).toMatchObject({ status: 'False' });

    await apply('Halted');
    const stopped = await until('Stopped', async () => {
      const o = await getVm();
      return o?.status?.phase === 'Stopped' ? o : undefined;
    }, within(60_000));
    expect(stopped.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Halted' });
    const halted = (await conn.lookupDomainByName('demo.tiny-1'))!;
    expect((await halted.getState()).state).toBe('shutoff');
    halted.free();

    const del = await stratus(['delete', 'vm', 'tiny-1'], env);
    expect(del.code).toBe(0);
    await until('the VM to be gone', async () => (await stratus(['get', 'vm', 'tiny-1'], env)).code === 1, within(60_000));
    expect(await conn.lookupDomainByName('demo.tiny-1')).toBeUndefined();
    const pool = await conn.lookupStoragePool('default');
    const vols = pool ? await pool.listVolumes() : [];
    expect(vols.map((v) => v.name)).toEqual([]);
    vols.forEach((v) => v.free());
    pool?.free();
  }, 240_000);
});
