// The fence guard of real hosts (agents/host/fence-guard.ts): real qemu guests on a session
// libvirtd outlive a frozen or killed agent, so a separate guard process destroys this host's
// Stratus domains when the agent's "alive" deadline passes with no extension, and only those; a
// clean stop disarms it (the guests keep running). Needs qemu, libvirtd and root (CI: fails loudly).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildMetadata } from '../../agents/domain';
import { FenceGuard } from '../../agents/host/fence-guard';
import { REPO } from '../helpers/frontend';
import { qemuUnavailable, startSessionLibvirtd, type SessionLibvirtd } from '../helpers/libvirtd';
import { describeIfAvailable } from '../helpers/prerequisites';
import { until } from '../helpers/wait';

jest.setTimeout(120_000);

const GUARD = join(REPO, 'dist/agents/host/fence-guard-main.js');
const HOST = 'hv-guard';

describeIfAvailable('fence-guard.test.ts', qemuUnavailable(['dist/agents/host/fence-guard-main.js']))('the qemu fence guard', () => {
  let libvirtd: SessionLibvirtd;
  let dir: string;
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', libvirtd.uri, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const state = (name: string) => {
    try {
      return virsh('domstate', name);
    } catch {
      return 'gone';
    }
  };
  /** Starts a transient guest (no disk, paused at the first instruction: cheap) marked as `host`'s. */
  const guest = (name: string, host: string) => {
    const [namespace, vm] = name.split('.');
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os>
      ${buildMetadata({ uid: `uid-${vm}`, namespace, name: vm, host, generation: 1 })}
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`;
    const file = join(dir, `${name}.xml`);
    writeFileSync(file, xml);
    virsh('create', file, '--paused');
  };

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/stratus-guard-');
    chmodSync(dir, 0o755); // the session libvirtd's user must reach its folders
    libvirtd = await startSessionLibvirtd(join(dir, 'libvirtd'));
    await until('the session libvirtd answering', () => {
      virsh('list');
      return true;
    }, 20_000);
  });
  afterAll(async () => {
    for (const n of ['fg.a', 'fg.b', 'fg.other', 'fg.c', 'fg.d']) if (state(n) !== 'gone') virsh('destroy', n);
    await libvirtd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('no extension by the deadline: the host\'s Stratus domains are destroyed, another host\'s are not', async () => {
    guest('fg.a', HOST);
    guest('fg.b', HOST);
    guest('fg.other', 'hv-someone-else');
    const guard = new FenceGuard({ uri: libvirtd.uri, host: HOST, command: [process.execPath, GUARD] });
    const ac = new AbortController();
    const running = guard.start(ac.signal);
    await until('the guard started', () => guard.pid !== undefined);
    guard.extend(1000);
    // As an agent frozen now would: no word any more.
    await until('fg.a and fg.b destroyed', () => state('fg.a') === 'gone' && state('fg.b') === 'gone', 30_000);
    expect(state('fg.other')).toBe('paused');
    ac.abort();
    await running;
  });

  test('extended in time it leaves the guests alone; a clean stop disarms it', async () => {
    guest('fg.c', HOST);
    const guard = new FenceGuard({ uri: libvirtd.uri, host: HOST, command: [process.execPath, GUARD] });
    const ac = new AbortController();
    const running = guard.start(ac.signal);
    await until('the guard started', () => guard.pid !== undefined);
    for (let i = 0; i < 10; i++) {
      guard.extend(1500);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(state('fg.c')).toBe('paused');
    ac.abort();
    await running;
    // Disarmed: well past the last deadline, the guest still runs.
    await new Promise((r) => setTimeout(r, 2500));
    expect(state('fg.c')).toBe('paused');
  });

  test('the agent died (its pipe closed): the guard fences at the deadline, then exits', async () => {
    guest('fg.d', HOST);
    const child = spawn(process.execPath, [GUARD, libvirtd.uri, HOST], { stdio: ['pipe', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.stdin!.end('alive 1000\n');
    await until('fg.d destroyed', () => state('fg.d') === 'gone', 30_000);
    expect(await exited).toBe(0);
  });
});
