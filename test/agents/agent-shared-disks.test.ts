/**
 * A VM's disk on shared storage survives a move. Two real agents, each on its own session
 * libvirtd with the qemu driver, both with a `dir` storage pool `shared` on one folder (declared
 * shared by the SHARED_POOL_MARKER file in it, as a netfs pool on NFS would be on real hosts; these
 * kernels cannot mount NFS), and the real controllers. A VM cloned from an Image is created on
 * host A, a byte pattern is written into its disk (guest data, through qemu-io), host A is drained:
 * the VM runs on host B from the same file (same path in its domain XML, same inode, the pattern
 * intact: not re-cloned), host A did not delete it; deleting the VM deletes the file.
 * Needs qemu, libvirtd and root: fails in CI (CI=true) without them, skips with the reason elsewhere.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentProcess } from '../../agents/agent-process';
import { SHARED_POOL_MARKER } from '../../agents/host/pools';
import { LibvirtConnection, LibvirtExecutor } from '../../libvirt';
import { LeaseRepository } from '../../store/leases';
import { API_VERSION } from '../../schemas/kinds';
import { describeIfAvailable } from '../helpers/prerequisites';
import { qemuUnavailable, startSessionLibvirtd, LIBVIRTD_UID, type SessionLibvirtd } from '../helpers/libvirtd';
import { FAST_TIMINGS, testLogger } from '../helpers/agent';
import { openTestStore, type TestStore } from '../helpers/store';
import { startReplicas, type RunningReplicas } from '../helpers/replicas';
import { conditionOf, vmKey } from '../helpers/fixtures';
import { until } from '../helpers/wait';

jest.setTimeout(240_000);

const NS = 'sd';
const SHARED_ID = 'test-shared-storage';
const PATTERN = '0x5a';

interface Side {
  host: string;
  libvirtd: SessionLibvirtd;
  conn: LibvirtConnection;
  proc: AgentProcess;
  running: Promise<void>;
}

describeIfAvailable('agent-shared-disks.test.ts', qemuUnavailable())('a VM disk on a shared storage pool moves with its VM', () => {
  let dir: string;
  let shared: string;
  let t: TestStore;
  let replicas: RunningReplicas | undefined;
  let executor: LibvirtExecutor;
  const ac = new AbortController();
  const sides: Side[] = [];

  const own = (p: string) => execFileSync('chown', ['-R', `${LIBVIRTD_UID}:${LIBVIRTD_UID}`, p]);
  const getVm = () => t.store.get(vmKey(NS, 'data-1'));
  const side = (host: string) => sides.find((s) => s.host === host)!;

  async function startSide(host: string): Promise<void> {
    const libvirtd = await startSessionLibvirtd(path.join(dir, host));
    const conn = await until('a libvirt connection', () => LibvirtConnection.open(libvirtd.uri), { timeoutMs: 10_000 });
    // the shared pool, defined on this host's libvirt over the one folder
    const pool = await conn.defineStoragePool(`<pool type='dir'><name>shared</name><target><path>${shared}</path></target></pool>`);
    await pool.create();
    pool.free();
    fs.mkdirSync(libvirtd.stateDir, { recursive: true });
    own(libvirtd.stateDir);
    const proc = new AgentProcess({
      store: t.store, leases: new LeaseRepository({ client: t.client, keyspace: t.keyspace }), logger: testLogger, executor,
      stateDir: libvirtd.stateDir, hosts: [{ name: host, libvirtUri: libvirtd.uri }], pool: 'shared', virtType: 'qemu',
      seeds: 'off', network: { backend: 'none' }, pollIntervalMs: 100, workers: 2, timings: { ...FAST_TIMINGS, shutdownGraceMs: 500 },
    });
    const running = proc.start(ac.signal);
    await proc.ready();
    sides.push({ host, libvirtd, conn, proc, running });
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-shared-'));
    fs.chmodSync(dir, 0o755);
    shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    fs.writeFileSync(path.join(shared, SHARED_POOL_MARKER), `${SHARED_ID}\n`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'base.qcow2'), '16M']);
    own(dir);
    t = await openTestStore('shared_disks', { followerGraceMs: 300, followerOverlapMs: 500 });
    executor = new LibvirtExecutor({ threads: 2 });
    await startSide('sd-a');
    await startSide('sd-b');
    replicas = await startReplicas(t.store, 1, { audit: { periodMs: 60_000 } });
  }, 120_000);

  afterAll(async () => {
    ac.abort();
    await Promise.all(sides.map((s) => s.running.catch(() => undefined)));
    for (const s of sides) {
      for (const d of await s.conn.listAllDomains().catch(() => [])) {
        await d.destroy().catch(() => undefined);
        await d.undefine().catch(() => undefined);
        d.free();
      }
      await s.conn.close().catch(() => undefined);
      await s.libvirtd.stop();
    }
    await replicas?.stop();
    await executor?.close();
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('drained, the VM runs on the other host from the same disk file, and deleting it deletes the file', async () => {
    await until('both Hosts Ready', async () => {
      const hs = await Promise.all(sides.map((s) => t.store.get({ kind: 'Host', namespace: '', name: s.host })));
      return hs.every((h) => conditionOf(h, 'Ready')?.status === 'True');
    }, 60_000);
    // first on host A: B cordoned meanwhile
    const setHost = (name: string, edit: (o: { metadata: { annotations?: Record<string, string> }; spec?: { unschedulable?: boolean } }) => void) =>
      t.store.guaranteedUpdate({ kind: 'Host', namespace: '', name }, (cur) => {
        edit(cur as never);
        return cur;
      });
    await setHost('sd-b', (h) => ((h.spec ??= {}).unschedulable = true));
    // The scheduler learns of the cordon from its feed: create the VM only once it has.
    await until('the scheduler sees sd-b cordoned', async () =>
      replicas!.replicas.every((r) => (r.informers.hosts.get('sd-b') as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === true), 30_000);
    await t.store.create({ apiVersion: API_VERSION, kind: 'Image', metadata: { name: 'base', namespace: NS }, spec: { source: { path: path.join(dir, 'base.qcow2') }, format: 'qcow2' } });
    // Manual first (placed, not started): its disk is made, and written to while no qemu holds it
    await t.store.create({
      apiVersion: API_VERSION, kind: 'VirtualMachine', metadata: { name: 'data-1', namespace: NS },
      spec: { runStrategy: 'Manual', cpu: 1, memory: '64Mi', disks: [{ name: 'root', image: 'base' }] },
    });
    let seen: Awaited<ReturnType<typeof getVm>>;
    const stopped = await until('data-1 Stopped on sd-a with its disk', async () => {
      seen = await getVm();
      return seen?.status?.phase === 'Stopped' && (seen.status.volumes as unknown[] | undefined)?.length ? seen : undefined;
    }, { timeoutMs: 60_000, context: () => JSON.stringify(seen?.status) });
    expect(stopped.status!.host).toBe('sd-a');
    const [disk] = stopped.status!.volumes as { name: string; path: string; pool: string; sharedPool?: string }[];
    expect(disk).toMatchObject({ name: 'root', pool: 'shared', sharedPool: SHARED_ID });
    expect(path.dirname(disk.path)).toBe(shared);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${PATTERN} 1M 64k`, disk.path], { stdio: 'ignore' });
    const inode = fs.statSync(disk.path).ino;

    await t.store.guaranteedUpdate(vmKey(NS, 'data-1'), (cur) => {
      (cur.spec as { runStrategy: string }).runStrategy = 'Always';
      return cur;
    });
    await until('data-1 Running on sd-a', async () => (seen = await getVm())?.status?.phase === 'Running', { timeoutMs: 60_000, context: () => JSON.stringify(seen?.status) });

    // drain A (B open again)
    await setHost('sd-b', (h) => ((h.spec ??= {}).unschedulable = false));
    await setHost('sd-a', (h) => {
      h.metadata.annotations = { ...h.metadata.annotations, 'stratuslab.eu/drain': 'true' };
      (h.spec ??= {}).unschedulable = true;
    });
    const moved = await until('data-1 Running on sd-b', async () => {
      seen = await getVm();
      return seen?.status?.host === 'sd-b' && seen.status.phase === 'Running' ? seen : undefined;
    }, { timeoutMs: 90_000, context: () => JSON.stringify(seen?.status) });
    expect(moved.status!.volumes).toEqual([expect.objectContaining({ name: 'root', path: disk.path, sharedPool: SHARED_ID })]);
    // B's domain opens the same file
    const dom = await side('sd-b').conn.lookupDomainByName(`${NS}.data-1`);
    expect(dom).toBeDefined();
    const xml = await dom!.getXML();
    dom!.free();
    expect(xml).toContain(`<source file='${disk.path}'`);
    // A removed its domain but not the disk
    await until('no domain left on sd-a', async () => (await side('sd-a').conn.lookupDomainByName(`${NS}.data-1`)) === undefined, 30_000);
    expect(fs.existsSync(disk.path)).toBe(true);
    // the same file: same inode, and the guest data written on A is there (a clone would read zeros)
    expect(fs.statSync(disk.path).ino).toBe(inode);
    const read = execFileSync('qemu-io', ['-U', '-r', '-f', 'qcow2', '-c', `read -P ${PATTERN} 1M 64k`, disk.path], { encoding: 'utf8' });
    expect(read).not.toMatch(/verification failed/i);
    expect(read).toMatch(/read 65536\/65536 bytes/);
    // A's sweep keeps leaving it alone while the VM runs on B
    await new Promise((r) => setTimeout(r, 2 * FAST_TIMINGS.resyncMs));
    expect(fs.existsSync(disk.path)).toBe(true);

    // deleting the VM deletes its disk
    await t.store.delete(vmKey(NS, 'data-1'));
    await until('data-1 gone', async () => (await getVm()) === undefined, 60_000);
    await until('its disk file deleted', () => !fs.existsSync(disk.path), 30_000);
  });
});
