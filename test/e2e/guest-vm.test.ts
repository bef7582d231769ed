/**
 * A real Debian guest, end to end, as a user meets it: the image built from Debian packages
 * (scripts/guest/build-image.sh), a session libvirtd with qemu (TCG here: KVM hangs on these
 * machines), the frontend, the controllers (the scheduler places the VM) and a real agent, all as
 * processes, driven with the built CLI. A VM applied with the CLI boots; cloud-init installs the
 * key and runs the user data; `stratus ssh` logs in and reads the file and the hostname; the
 * address in status is the one used; a console session types a command on the serial console and
 * reads its answer; stop then start works; Events show the steps; delete removes the domain and
 * the seed. Needs qemu, libvirtd, root, mmdebstrap and xorriso: fails in CI without them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeIfAvailable } from '../helpers/prerequisites';
import { debianVm, guestUnavailable, startGuestRig, REAL_HOST, type GuestRig } from '../helpers/guest-rig';
import { until } from '../helpers/wait';
import { openConsole } from '../helpers/console';

const VM = 'shell-1';
const BOOT_MS = 240_000; // TCG: the guest answers SSH ~45 s after start on an idle machine

describeIfAvailable('guest-vm.test.ts', guestUnavailable())('a real Debian guest through the whole stack', () => {
  let rig: GuestRig;
  const within = (timeoutMs: number) => ({ timeoutMs, everyMs: 1000, context: () => rig.logs() });

  beforeAll(async () => {
    rig = await startGuestRig('guest');
  }, 600_000);

  afterAll(async () => {
    if (process.env.STRATUS_TEST_LOG) process.stderr.write(rig?.logs() ?? '');
    await rig?.close();
  }, 120_000);

  async function vm(): Promise<any> {
    const r = await rig.cli(['get', 'vm', VM, '-o', 'json']);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  }

  async function phase(want: string, ms: number): Promise<any> {
    return until(`phase ${want}`, async () => {
      const o = await vm();
      return o?.status?.phase === want ? o : undefined;
    }, within(ms));
  }

  /** `stratus ssh VM -- command`, retried until the guest answers (sshd comes up after boot). */
  async function sshUntilUp(command: string): Promise<string> {
    let last = '';
    return until('an SSH login', async () => {
      const r = await rig.cli(['ssh', VM, '--', command]);
      last = `${r.code} ${r.stderr.slice(-300)}`;
      return r.code === 0 ? r.stdout : undefined;
    }, { timeoutMs: BOOT_MS, everyMs: 3000, context: () => `last ssh: ${last}\n${rig.logs()}` });
  }

  test('boots, takes the key and the user data, answers SSH and the console, stops and starts, records Events, and is deleted with its seed', async () => {
    const userData = [
      '#cloud-config',
      'password: stratus-console',
      'chpasswd: {expire: false}',
      'runcmd:',
      '  - echo "user-data ran on $(hostname)" > /var/tmp/stratus-e2e.txt',
    ].join('\n');
    const applied = await rig.apply([debianVm(rig, VM, { userData })]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);

    const running = await phase('Running', 120_000);
    expect(running.status.host).toBe(REAL_HOST);

    // cloud-init installed the key (the login works) and ran the user data; the hostname is the VM's.
    const out = await sshUntilUp('hostname; cat /var/tmp/stratus-e2e.txt');
    expect(out.split('\n')).toEqual([VM, `user-data ran on ${VM}`, '']);

    // The address the login went through is in status: the SSH forward of the user-mode NIC, and
    // the guest's own address as the guest agent reports it.
    const withAddr = await until('status.interfaces with the guest address', async () => {
      const o = await vm();
      return o?.status?.interfaces?.[0]?.ipAddress ? o : undefined;
    }, within(120_000));
    const nic = withAddr.status.interfaces[0];
    expect(nic).toMatchObject({ name: 'default', infoSource: 'guest-agent', interfaceName: 'eth0' });
    expect(nic.ipAddress).toBe('10.0.2.15');
    expect(withAddr.status.ip).toBe('10.0.2.15');
    const forward = nic.forwards.find((f: any) => f.port === 22);
    const direct = execFileSync('ssh', ['-i', rig.key.private, '-p', String(forward.hostPort), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `debian@${forward.hostIP}`, 'hostname'], { encoding: 'utf8', timeout: 60_000 });
    expect(direct.trim()).toBe(VM);
    const wide = await rig.cli(['get', 'vm', VM, '-o', 'wide']);
    expect(wide.stdout).toContain('10.0.2.15');

    // The serial console through the frontend: log in and run a command, read its answer.
    const con = await openConsole(rig.fe, 'demo', VM);
    try {
      con.send('\r');
      await con.expect(/login: $/m, 60_000);
      con.send('debian\r');
      await con.expect(/Password: ?$/m, 20_000);
      con.send('stratus-console\r');
      await con.expect(/\$ $/m, 30_000);
      con.send('echo $((6*7))-$(hostname)\r');
      expect(await con.expect(/^42-shell-1\r?$/m, 20_000)).toBeTruthy();
    } finally {
      con.close();
    }
    const logs = await rig.cli(['logs', VM, '--tail', '500']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/Cloud-init .* finished/);

    // stop, then start: the domain stops, then boots again and answers SSH.
    const stop = await rig.cli(['stop', VM]);
    expect(stop.code).toBe(0);
    await phase('Stopped', 180_000);
    expect(await rig.domainState(`demo.${VM}`)).toBe('shutoff');
    // what the guest printed while it stopped (the console log survives the stop)
    const stopLog = (await rig.cli(['logs', VM, '--tail', '60'])).stdout;
    const start = await rig.cli(['start', VM]);
    expect(start.code).toBe(0);
    await phase('Running', 120_000);
    expect((await sshUntilUp('cat /var/tmp/stratus-e2e.txt')).trim()).toBe(`user-data ran on ${VM}`);

    // Events: the scheduler's and the agent's steps, as kubectl would show them.
    const events = await rig.cli(['get', 'events', '-o', 'json']);
    expect(events.code).toBe(0);
    const reasons = (JSON.parse(events.stdout).items as any[]).filter((e) => e.involvedObject?.name === VM).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Started', 'Stopped']));
    // the guest shut down by itself within its grace: never powered off under it (its disk stays whole)
    expect({ reasons, stopLog: reasons.includes('ShutdownTimeout') ? stopLog : '' }).toEqual({ reasons: expect.not.arrayContaining(['ShutdownTimeout']), stopLog: '' });
    const describe = await rig.cli(['describe', 'vm', VM]);
    expect(describe.stdout).toMatch(/Scheduled/);

    // delete: the domain and the seed disk go.
    const seeds = () => listFiles(rig.libvirtd.stateDir).filter((f) => /seed|cidata/.test(f) && f.includes(VM));
    expect(seeds().length).toBeGreaterThan(0);
    expect((await rig.cli(['delete', 'vm', VM])).code).toBe(0);
    await until('the VM gone', async () => (await rig.cli(['get', 'vm', VM])).code === 1, within(120_000));
    expect(await rig.domainState(`demo.${VM}`)).toBeUndefined();
    expect(seeds()).toEqual([]);
  }, 1_200_000);
});

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}
