/**
 * A real VM end to end: qemu with TCG (no KVM here) under a session libvirtd run as an
 * unprivileged user, the built stratus-agent process (dist/agents/main.js), a frontend process
 * and the built CLI. The guest is the tiny kernel + busybox initramfs that scripts/guest/build.sh
 * makes from Debian packages. A VM applied with the CLI reaches Running, its console log shows
 * the guest's line (`stratus logs`), its serial console answers through the frontend (a websocket
 * client and `stratus console`; a viewer gets 403, a second session takes over, the agent refuses
 * bad tokens), so does its VNC display, Halted stops it (the console then answers 409), delete removes everything.
 * Needs qemu, libvirtd, root and a build: without them it fails in CI (CI=true) and skips with the
 * reason elsewhere.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { fetch as undiciFetch } from 'undici';
import { createCassandraClient, ObjectStore } from '../../store';
import { LibvirtConnection } from '../../libvirt';
import { REPO, bootstrapToken, startFrontend, stratus, type Frontend } from '../helpers/frontend';
import { openConsole, ConsoleRefused } from '../helpers/console';
import { ClusterSecretRepository, CONSOLE_TOKEN_SECRET } from '../../store/cluster-secrets';
import { mintConsoleToken } from '../../kube/console-token';
import { cassandraContactPoints } from '../helpers/store';
import { describeIfAvailable } from '../helpers/prerequisites';
import { qemuUnavailable, startSessionLibvirtd, LIBVIRTD_UID, type SessionLibvirtd } from '../helpers/libvirtd';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';

const HOST = 'qemu-e2e';

describeIfAvailable('agent-vm.test.ts', qemuUnavailable(['dist/agents/main.js']))('a real VM on qemu (TCG)', () => {
  let dir: string;
  let libvirtd: SessionLibvirtd;
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
    if (libvirtd) await libvirtd.start();
    else libvirtd = await startSessionLibvirtd(path.join(dir, 'libvirtd'));
    uri = libvirtd.uri;
    conn = await until('a libvirt connection', () => LibvirtConnection.open(uri), within(10_000));
  }

  async function stopLibvirtd(): Promise<void> {
    await conn?.close().catch(() => undefined);
    await libvirtd.stop();
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
    execFileSync('chown', ['-R', `${LIBVIRTD_UID}:${LIBVIRTD_UID}`, dir]);

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
      '--cassandra', cassandraContactPoints().join(','), '--state-dir', libvirtd.stateDir, '--virt-type', 'qemu', '--labels', 'e2e=qemu'], {
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
      {
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Project', metadata: { name: 'demo' },
        spec: { quota: { vms: 5, cpu: 4, memory: '4Gi', storage: '10Gi' }, members: [{ user: 'vera', role: 'viewer' }] },
      },
      {
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'tiny', namespace: 'demo' },
        spec: { kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), cmdline: 'console=ttyS0 panic=-1' },
      },
      {
        apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'tiny-1', namespace: 'demo' },
        spec: { runStrategy, cpu: 1, memory: '256Mi', disks: [{ name: 'boot', image: 'tiny' }], console: { type: 'vnc' } },
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
    const consoleDir = path.join(libvirtd.stateDir, 'console', 'demo.tiny-1');
    expect(log).toBe(path.join(consoleDir, 'serial.log'));
    // qemu (run by libvirtd as nobody) made its socket and log in the VM's folder, which only it may open.
    expect(fs.statSync(consoleDir)).toMatchObject({ uid: LIBVIRTD_UID, mode: 0o40700 });
    const line = await until('the guest\'s line', async () => {
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      return /STRATUS-GUEST-OK[^\r\n]*/.exec(text)?.[0];
    }, within(90_000));
    expect(line).toMatch(/kernel=6\./);
    await consoleWorks(running.metadata.uid);
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
    // The console does not go through libvirtd: it works on.
    const again = await openConsole(fe, 'demo', 'tiny-1');
    again.send('echo after-$((2+3))\n');
    await again.expect(/^after-5\r?\n/m, 20_000);
    again.close();

    await apply('Halted');
    const stopped = await until('Stopped', async () => {
      const o = await getVm();
      return o?.status?.phase === 'Stopped' ? o : undefined;
    }, within(60_000));
    expect(stopped.status.conditions.find((c: any) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'Halted' });
    const halted = (await conn.lookupDomainByName('demo.tiny-1'))!;
    expect((await halted.getState()).state).toBe('shutoff');
    halted.free();
    // A stopped VM has no console (409, nothing written); its log is still there.
    const refused = await openConsole(fe, 'demo', 'tiny-1').then(() => undefined, (e) => e);
    expect(refused).toBeInstanceOf(ConsoleRefused);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toBe('virtualmachines.stratuslab.eu "tiny-1" is not running (phase Stopped): its console opens once it runs');
    const cli = await stratus(['console', 'tiny-1'], env, '');
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/is not running \(phase Stopped\)/);
    expect((await getVm()).metadata.resourceVersion).toBe(stopped.metadata.resourceVersion);
    const stoppedLog = await stratus(['logs', 'tiny-1', '--tail', '200'], env);
    expect(stoppedLog.stdout).toContain('STRATUS-GUEST-OK');

    const del = await stratus(['delete', 'vm', 'tiny-1'], env);
    expect(del.code).toBe(0);
    await until('the VM to be gone', async () => (await stratus(['get', 'vm', 'tiny-1'], env)).code === 1, within(60_000));
    expect(await conn.lookupDomainByName('demo.tiny-1')).toBeUndefined();
    const pool = await conn.lookupStoragePool('default');
    const vols = pool ? await pool.listVolumes() : [];
    expect(vols.map((v) => v.name)).toEqual([]);
    vols.forEach((v) => v.free());
    pool?.free();
    expect(fs.existsSync(consoleDir)).toBe(false);
  }, 300_000);

  /**
   * The serial console of the running tiny-1 through the frontend: a websocket client types and
   * reads the answer; a second session takes over; `stratus console` works with a pipe as stdin;
   * `stratus logs --tail` shows the guest's line; a viewer gets 403; the agent refuses bad tokens.
   */
  async function consoleWorks(uid: string): Promise<void> {
    const first = await openConsole(fe, 'demo', 'tiny-1');
    first.send('\n');
    // busybox's line editing asks the terminal where its cursor is (ESC [6n) after the prompt
    await first.expect(/guest# /, 30_000);
    first.send('echo $((6*7))\n');
    expect((await first.expect(/^(\d+)\r?\n/m, 20_000))[1]).toBe('42');

    // One session at a time, as KubeVirt: the new one takes over, the old one is told why.
    const second = await openConsole(fe, 'demo', 'tiny-1');
    expect(await first.closed).toEqual({ code: 4001, reason: 'another console session took over' });
    second.send('echo taken-$((7*6))\n');
    await second.expect(/^taken-42\r?\n/m, 20_000);
    second.close();

    // The CLI, stdin a pipe: the input goes as is; the session ends once the console is quiet.
    const cli = await stratus(['console', 'tiny-1'], env, 'echo cli-$((6*7))\n');
    expect(cli.stderr).toContain('Connected to virtualmachine tiny-1.');
    expect(cli.stdout).toMatch(/^cli-42\r?$/m);
    expect(cli.code).toBe(0);

    // The VNC display (spec.console.type vnc) through the same path: the server speaks RFB first.
    const vnc = await openConsole(fe, 'demo', 'tiny-1', { sub: 'vnc' });
    await vnc.expect(/^RFB 003\.00\d\n/, 20_000);
    vnc.close();

    const logs = await stratus(['logs', 'tiny-1', '--tail', '100'], env);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('STRATUS-GUEST-OK');
    expect(logs.stdout).toMatch(/^cli-42\r?$/m);
    const two = await stratus(['logs', 'tiny-1', '--tail', '2'], env);
    expect(two.stdout.split('\n').length).toBeLessThanOrEqual(3);

    // A viewer reads the log, never opens the console.
    const viewer = bootstrapToken(fe.env, ['--user', 'vera', '--group', 'e2e-viewers']);
    const denied = await stratus(['console', 'tiny-1', '--token', viewer], env, '');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/cannot create resource "virtualmachines\/console"/);
    expect((await stratus(['logs', 'tiny-1', '--tail', '1', '--token', viewer], env)).code).toBe(0);

    // The agent checks tokens itself: none, expired, or another host's are refused.
    const host = await store.get({ kind: 'Host', namespace: '', name: HOST });
    const ep = (host!.status as any).daemonEndpoints.console as { address: string; port: number };
    const key = await new ClusterSecretRepository({ client, keyspace: fe.keyspace }).getOrCreate(CONSOLE_TOKEN_SECRET, () => Buffer.alloc(32));
    const agentUrl = `http://${ep.address}:${ep.port}/v1/namespaces/demo/virtualmachines/tiny-1/log`;
    const grant = { host: HOST, namespace: 'demo', name: 'tiny-1', uid, channel: 'log' as const };
    const code = async (token?: string) => (await undiciFetch(agentUrl, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
    expect(await code()).toBe(401);
    expect(await code(await mintConsoleToken(key, grant, { nowSec: Math.floor(Date.now() / 1000) - 300 }))).toBe(401);
    expect(await code(await mintConsoleToken(key, { ...grant, host: 'elsewhere' }))).toBe(403);
    expect(await code(await mintConsoleToken(key, grant))).toBe(200);
  }
});
