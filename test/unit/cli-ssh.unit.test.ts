// `stratus ssh` / `stratus scp` without I/O: the endpoint taken from a VM's status, the
// [USER@]NAME[:PATH] arguments, and the exact ssh/scp command lines.
import { CliError } from '../../cli/errors/cli-error';
import { parseCopyPath, parseSshTarget, scpArgs, shellQuote, sshArgs, sshEndpoint, knownHostsFor, type SshVm } from '../../cli/ssh';
import { exitCodeOf } from '../../cli/errors/format';

const running = (status: SshVm['status'], uid = 'u-1'): SshVm => ({ metadata: { name: 'web-1', namespace: 'demo', uid }, status: { phase: 'Running', ...status } });
const KH = '/home/me/.stratus/known_hosts';

function thrown(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    return err as CliError;
  }
  throw new Error('expected an error');
}

describe('sshEndpoint', () => {
  test('a forward of TCP port 22 wins over status.ip: the hypervisor port, under the alias stratus-<uid>', () => {
    const e = sshEndpoint(running({
      ip: '10.0.2.15',
      interfaces: [
        { name: 'default', ipAddress: '10.0.2.15', forwards: [{ protocol: 'TCP', port: 80, hostIP: '127.0.0.1', hostPort: 8080 }, { protocol: 'TCP', port: 22, hostIP: '127.0.0.1', hostPort: 22013 }] },
      ],
    }));
    expect(e).toMatchObject({ host: '127.0.0.1', port: 22013, hostKeyAlias: 'stratus-u-1' });
  });

  test('a forward without hostIP is on the hypervisor\'s loopback', () => {
    expect(sshEndpoint(running({ interfaces: [{ name: 'default', forwards: [{ port: 22, hostPort: 2201 }] }] }))).toMatchObject({ host: '127.0.0.1', port: 2201 });
  });

  test('without a forward: status.ip on port 22, else the first interface address', () => {
    expect(sshEndpoint(running({ ip: '192.168.1.7', interfaces: [{ name: 'default', ipAddress: '192.168.1.7' }] }))).toMatchObject({ host: '192.168.1.7', port: 22 });
    expect(sshEndpoint(running({ interfaces: [{ name: 'lan' }, { name: 'b', ipAddress: 'fd00::5' }] }))).toMatchObject({ host: 'fd00::5', port: 22 });
  });

  test('an address handed out on a Network (status.addresses) wins over what the guest reports', () => {
    expect(sshEndpoint(running({ ip: '192.168.1.7', addresses: [{ name: 'lan', ipAddress: '10.42.0.5' }] }))).toMatchObject({ host: '10.42.0.5', port: 22, via: 'the address of interface lan (status.addresses)' });
  });

  test('a VM that is not running is an error (exit 1) naming its phase and what to do', () => {
    const stopped = thrown(() => sshEndpoint({ metadata: { name: 'web-1', namespace: 'demo' }, status: { phase: 'Stopped', ip: '10.0.0.1' } }));
    expect(stopped.message).toBe('VM demo/web-1 is not running (phase Stopped); start it with: stratus start web-1');
    expect(exitCodeOf(stopped)).toBe(1);
    expect(thrown(() => sshEndpoint({ metadata: { name: 'web-1', namespace: 'demo' } })).message).toBe('VM demo/web-1 is not running (phase unknown); wait until it is Running: stratus get vm web-1 -w');
    expect(thrown(() => sshEndpoint({ metadata: { name: 'web-1' }, status: { phase: 'Terminating' } })).message).toBe('VM web-1 is not running (phase Terminating): it is being deleted');
  });

  test('a VM on a hollow host (libvirt\'s test driver) has no guest: an error, though the test driver reports an address', () => {
    const hollow = { metadata: { name: 'hv-0001', labels: { 'stratuslab.eu/hollow': 'true' } } };
    expect(thrown(() => sshEndpoint(running({ ip: '192.168.0.1' }), hollow)).message).toBe(
      'VM demo/web-1 runs on hollow host hv-0001 (libvirt\'s test driver): it has no guest to log into',
    );
    expect(sshEndpoint(running({ ip: '192.168.0.1' }), { metadata: { name: 'local-qemu', labels: { 'stratuslab.eu/hypervisor': 'qemu' } } }).host).toBe('192.168.0.1');
  });

  test('a running VM without an address yet is an error (exit 1) that says so', () => {
    const err = thrown(() => sshEndpoint(running({ interfaces: [{ name: 'default', forwards: [{ port: 80, hostPort: 8080 }] }] })));
    expect(err.message).toMatch(/^VM demo\/web-1 has no address yet/);
    expect(exitCodeOf(err)).toBe(1);
  });
});

describe('arguments', () => {
  test('[USER@]NAME and vm/NAME', () => {
    expect(parseSshTarget('web-1')).toEqual({ user: undefined, name: 'web-1' });
    expect(parseSshTarget('root@web-1')).toEqual({ user: 'root', name: 'web-1' });
    expect(parseSshTarget('vm/web-1')).toEqual({ user: undefined, name: 'web-1' });
    expect(() => parseSshTarget('@web-1')).toThrow(/the user before @ is empty/);
    expect(() => parseSshTarget('Web_1')).toThrow(/expected \[USER@\]NAME/);
  });

  test('scp paths: NAME:PATH is on a VM, anything with a / before the colon is local', () => {
    expect(parseCopyPath('web-1:/etc/hostname')).toEqual({ user: undefined, name: 'web-1', path: '/etc/hostname' });
    expect(parseCopyPath('root@web-1:')).toEqual({ user: 'root', name: 'web-1', path: '' });
    expect(parseCopyPath('vm/web-1:x')).toEqual({ user: undefined, name: 'web-1', path: 'x' });
    expect(parseCopyPath('./a:b')).toEqual({ local: './a:b' });
    expect(parseCopyPath('/tmp/file')).toEqual({ local: '/tmp/file' });
    expect(parseCopyPath('notes.txt')).toEqual({ local: 'notes.txt' });
  });
});

describe('command lines', () => {
  const e = { host: '127.0.0.1', port: 22013, hostKeyAlias: 'stratus-u-1', via: 'test' };

  test('ssh: key, host key alias, Stratus known_hosts, trust on first use, port, then -- before the destination and command', () => {
    expect(sshArgs(e, { user: 'debian', identityFile: '/home/me/.ssh/id_ed25519', knownHostsFile: KH }, ['ls', '-la'])).toEqual([
      '-i', '/home/me/.ssh/id_ed25519',
      '-o', 'HostKeyAlias=stratus-u-1', '-o', `UserKnownHostsFile=${KH}`, '-o', 'StrictHostKeyChecking=accept-new',
      '-p', '22013', '--', 'debian@127.0.0.1', 'ls', '-la',
    ]);
  });

  test('ssh without a key file leaves the choice to ssh; the user\'s -o options come first (ssh keeps the first value); a known_hosts path with spaces is quoted', () => {
    expect(sshArgs(e, { user: 'root', knownHostsFile: '/my home/known_hosts', options: ['BatchMode=yes', 'StrictHostKeyChecking=no'] })).toEqual([
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'HostKeyAlias=stratus-u-1', '-o', 'UserKnownHostsFile="/my home/known_hosts"', '-o', 'StrictHostKeyChecking=accept-new',
      '-p', '22013', '--', 'root@127.0.0.1',
    ]);
  });

  test('scp: -P, -r, the VM side rewritten to user@host:path, IPv6 in brackets', () => {
    const o = { user: 'debian', knownHostsFile: KH };
    expect(scpArgs(e, o, { local: 'a.txt' }, { name: 'web-1', path: '/tmp/' }, { recursive: true })).toEqual([
      '-o', 'HostKeyAlias=stratus-u-1', '-o', `UserKnownHostsFile=${KH}`, '-o', 'StrictHostKeyChecking=accept-new',
      '-P', '22013', '-r', '--', 'a.txt', 'debian@127.0.0.1:/tmp/',
    ]);
    expect(scpArgs({ ...e, host: 'fd00::5', port: 22 }, o, { name: 'web-1', path: 'log' }, { local: '.' }).slice(-2)).toEqual(['debian@[fd00::5]:log', '.']);
  });

  test('known_hosts lives beside the CLI config; -v prints a command line a shell can run', () => {
    expect(knownHostsFor('/home/me/.stratus/config.yaml')).toBe(KH);
    expect(shellQuote(['ssh', '-o', 'UserKnownHostsFile="/my home/kh"', 'debian@127.0.0.1', "echo 'hi'"])).toBe(
      `ssh -o 'UserKnownHostsFile="/my home/kh"' debian@127.0.0.1 'echo '\\''hi'\\'''`,
    );
  });
});
