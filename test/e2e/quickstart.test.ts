/**
 * The parts of `npm run up`'s real host, each run as the quick start runs it: the SSH key
 * (scripts/up-qemu.sh qemu_ssh_key: made once, never overwritten), the VM manifest from
 * examples/quickstart/ (valid, with the key), the accelerator probe (scripts/guest/accel.sh: a
 * real probe boot, then its cache) and the session libvirtd (scripts/session-libvirtd.sh through
 * test/helpers/libvirtd.ts), whose guests' sockets fit even under a deep folder.
 * The whole `npm run up` with its Debian guest is the lead's end-to-end test.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { LibvirtConnection } from '../../libvirt';
import { Validator } from '../../schemas/validate';
import { REPO } from '../helpers/frontend';
import { LIBVIRTD_UID, qemuUnavailable, startSessionLibvirtd } from '../helpers/libvirtd';
import { describeIfAvailable } from '../helpers/prerequisites';
import { until } from '../helpers/wait';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-quickstart-'));
  fs.chmodSync(tmp, 0o755); // the session libvirtd's user (nobody) goes through it
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs a function of scripts/up-qemu.sh with HOME=home, as up.sh would (it sources the file). */
function upQemu(fn: string, home: string, args: string[] = []): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `step() { :; }; . scripts/up-qemu.sh; ${fn} "$@"`, 'up-qemu', ...args], {
    cwd: REPO, encoding: 'utf8', env: { ...process.env, HOME: home, REPO, STATE: path.join(tmp, 'state'), CONFIG: path.join(tmp, 'config.yaml') },
  });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run up: the SSH key and the VM manifest', () => {
  test('an SSH key pair is made when there is none, then reused and never overwritten; a lone private key gets its .pub', () => {
    const home = path.join(tmp, 'home-key');
    const first = upQemu('qemu_ssh_key', home);
    expect(first.code).toBe(0);
    const key = path.join(home, '.ssh', 'id_ed25519');
    expect(first.stdout.trim()).toBe(fs.readFileSync(`${key}.pub`, 'utf8').trim());
    expect(first.stdout).toMatch(/^ssh-ed25519 AAAA\S+ .*\(stratus quick start\)\n$/);
    expect(first.stderr).toContain(`made an SSH key pair: ${key}`);
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(key)).mode & 0o777).toBe(0o700);

    const before = fs.readFileSync(key, 'utf8');
    const again = upQemu('qemu_ssh_key', home);
    expect(again).toMatchObject({ code: 0, stdout: first.stdout, stderr: '' });
    expect(fs.readFileSync(key, 'utf8')).toBe(before);

    fs.rmSync(`${key}.pub`);
    const derived = upQemu('qemu_ssh_key', home);
    expect(derived.code).toBe(0);
    expect(derived.stdout.split(' ').slice(0, 2)).toEqual(first.stdout.split(' ').slice(0, 2));
    expect(fs.readFileSync(key, 'utf8')).toBe(before);
  });

  test('the VM manifest made from examples/quickstart/ carries the key and the built Image and is a valid VirtualMachine for the qemu host', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0H2a3pVqvYbO8r4e5uT3jvWlq3kQ5fRMm1hJ4bKx8Q me@laptop';
    const r = upQemu('qemu_vm_manifest', path.join(tmp, 'home-manifest'), [key]);
    expect(r.stderr).toBe('');
    const vm = YAML.parse(r.stdout);
    expect(vm.spec.cloudInit.sshAuthorizedKeys).toEqual([key]);
    expect(vm.spec.disks).toEqual([{ name: 'root', image: 'debian-12-local' }]);
    expect(vm.spec.placement.hostSelector).toEqual({ 'stratuslab.eu/hypervisor': 'qemu' });
    expect(vm.spec.placement.tolerations).toEqual([{ key: 'stratuslab.eu/hypervisor', operator: 'Equal', value: 'qemu', effect: 'NoSchedule' }]);
    const v = new Validator().validate('VirtualMachine', vm);
    expect(v.causes).toEqual([]);
    expect(v.ok).toBe(true);
    // the comments of the template are kept for the reader of .stratus/quickstart/vm.yaml
    expect(r.stdout).toContain('# written by npm run up from examples/quickstart/debian-vm.yaml.template');
  });
});

describe('scripts/guest/accel.sh: the accelerator', () => {
  const accel = (dir: string, env: Record<string, string> = {}) => spawnSync('bash', [path.join(REPO, 'scripts/guest/accel.sh'), dir], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });

  test('STRATUS_ACCEL answers without a probe; a bad value is a usage error', () => {
    expect(accel(path.join(tmp, 'accel-forced'), { STRATUS_ACCEL: 'kvm' })).toMatchObject({ status: 0, stdout: 'kvm\n' });
    const bad = accel(path.join(tmp, 'accel-forced'), { STRATUS_ACCEL: 'xen' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("accel: STRATUS_ACCEL must be kvm or qemu, got 'xen'\n");
  });

  test('a cached answer is given while the machine has not rebooted and qemu is the same', () => {
    const dir = path.join(tmp, 'accel-cached');
    fs.mkdirSync(dir, { recursive: true });
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    let qemu = '';
    try {
      qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    } catch {
      return; // without qemu the probe suite below says so
    }
    fs.writeFileSync(path.join(dir, 'accel'), `${bootId} ${qemu}\nkvm\n\n`);
    const t0 = Date.now();
    expect(accel(dir)).toMatchObject({ status: 0, stdout: 'kvm\n' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describeIfAvailable('quickstart.test.ts', qemuUnavailable())('real qemu: the probe boot and the session libvirtd', () => {
  test('the probe boots the tiny guest and answers kvm or qemu (TCG), caching the answer with the reason; a cache of another boot is probed again', () => {
    const dir = path.join(tmp, 'accel-probe');
    fs.mkdirSync(dir, { recursive: true });
    const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    fs.writeFileSync(path.join(dir, 'accel'), `another-boot ${qemu}\nnonsense\n\n`);
    const t0 = Date.now();
    const r = spawnSync('bash', [path.join(REPO, 'scripts/guest/accel.sh'), dir], {
      encoding: 'utf8', env: { ...process.env, STRATUS_KVM_PROBE_SEC: '5' }, timeout: 150_000,
    });
    expect(r.stderr).not.toMatch(/printed nothing in 60 s|exited/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^(kvm|qemu)\n$/);
    const cache = fs.readFileSync(path.join(dir, 'accel'), 'utf8').split('\n');
    expect(cache[0]).toBe(`${fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} ${qemu}`);
    expect(cache[1]).toBe(r.stdout.trim());
    if (r.stdout === 'qemu\n') expect(cache[2]).toMatch(/KVM does not work here|no usable \/dev\/kvm/);
    const again = spawnSync('bash', [path.join(REPO, 'scripts/guest/accel.sh'), dir], { encoding: 'utf8' });
    expect(again.stdout).toBe(r.stdout);
    expect(Date.now() - t0).toBeLessThan(150_000);
  }, 180_000);

  test('a session libvirtd under a deep folder runs a domain with a guest agent channel (its socket path fits), and restarts', async () => {
    const deep = path.join(tmp, 'a-folder-with-a-rather-long-name', 'and-another-one-below-it', 'libvirtd');
    const d = await startSessionLibvirtd(deep);
    let conn: LibvirtConnection | undefined;
    try {
      expect(fs.statSync(d.stateDir).uid).toBe(LIBVIRTD_UID);
      conn = await until('a libvirt connection', () => LibvirtConnection.open(d.uri), 10_000);
      const dom = await conn.defineDomain(`<domain type='qemu'>
  <name>quickstart-channel-test</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices>
</domain>`);
      await dom.start(1); // VIR_DOMAIN_START_PAUSED: qemu runs, the guest never does
      expect((await dom.getState()).state).toBe('paused');
      const sock = /<source mode='bind' path='([^']+)'/.exec(await dom.getXML())![1];
      expect(Buffer.byteLength(sock)).toBeLessThan(108);
      expect(fs.statSync(sock).isSocket()).toBe(true);
      await dom.destroy();
      await dom.undefine();
      dom.free();
      await conn.close();
      conn = undefined;

      await d.stop();
      await d.start();
      conn = await until('a connection to the restarted daemon', () => LibvirtConnection.open(d.uri), 10_000);
      expect(await conn.lookupDomainByName('quickstart-channel-test')).toBeUndefined();
    } finally {
      await conn?.close().catch(() => undefined);
      await d.stop();
    }
  }, 60_000);
});
