/**
 * `stratus ssh` and `stratus scp` end to end: the real API (in-process, a fresh keyspace), VMs
 * whose status the test writes as an agent would, the built CLI running the system's OpenSSH
 * client, and a real SSH server (ssh2's, test/helpers/sshd.ts) listening where the VM's port-22
 * forward points. The errors and the command line of each flag are checked in-process with the
 * program runner captured.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import YAML from 'yaml';
import { run } from '../../cli/main';
import { openTestApi, type TestApi } from '../helpers/api';
import { hostObject, vmKey, vmObject } from '../helpers/fixtures';
import { REPO, stratus } from '../helpers/frontend';
import { describeIfAvailable } from '../helpers/prerequisites';
import { startTestSshd, type TestSshd } from '../helpers/sshd';

function missing(): string | undefined {
  for (const cmd of ['ssh', 'scp', 'ssh-keygen']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      return `${cmd} is not installed (Debian: openssh-client)`;
    }
  }
  if (!fs.existsSync(path.join(REPO, 'dist/cli/main.js'))) return 'dist/cli/main.js is missing (npm run build)';
  return undefined;
}

describeIfAvailable('ssh-cli.test.ts', missing())('stratus ssh and scp', () => {
  let api: TestApi;
  let dir: string;
  let home: string;
  let config: string;
  let publicKey: string;
  const servers: TestSshd[] = [];
  const env = () => ({ HOME: home, STRATUS_CONFIG: config });

  beforeAll(async () => {
    api = await openTestApi('ssh');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-ssh-'));
    home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', path.join(home, '.ssh', 'id_ed25519')]);
    publicKey = fs.readFileSync(path.join(home, '.ssh', 'id_ed25519.pub'), 'utf8').trim();
    config = path.join(home, '.stratus', 'config.yaml');
    fs.mkdirSync(path.dirname(config), { recursive: true });
    fs.writeFileSync(config, YAML.stringify({ servers: [api.url], token: api.token, namespace: 'demo' }));
  });

  afterAll(async () => {
    for (const s of servers) await s.close();
    await api?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A VM as the agent leaves it: phase and interfaces written through the status subresource. */
  async function vm(name: string, status: Record<string, unknown>): Promise<string> {
    const created = await api.store.create(vmObject('demo', name));
    await api.store.guaranteedUpdate(vmKey('demo', name), (cur) => ({ ...cur, status }), { status: true });
    return created.metadata.uid!;
  }

  const forwardTo = (port: number) => ({
    phase: 'Running', ip: '10.0.2.15',
    interfaces: [{ name: 'default', mac: '52:54:00:12:34:56', interfaceName: 'eth0', ipAddress: '10.0.2.15', ipAddresses: ['10.0.2.15'], infoSource: 'guest-agent',
      forwards: [{ protocol: 'TCP', port: 22, hostIP: '127.0.0.1', hostPort: port }] }],
  });

  async function sshd(opts: { port?: number; root?: string } = {}): Promise<TestSshd> {
    const s = await startTestSshd({
      user: 'debian', authorizedKey: publicKey, port: opts.port, root: opts.root,
      exec: (c) => (c === 'exit 3' ? { stdout: '', code: 3 } : { stdout: `ran: ${c}\n`, code: 0 }),
    });
    servers.push(s);
    return s;
  }

  /** The keys known_hosts holds for `alias` (ssh-keygen -F finds hashed entries too), as "type base64". */
  const knownKeys = (alias: string): string[] => {
    const out = execFileSync('ssh-keygen', ['-F', alias, '-f', path.join(home, '.stratus', 'known_hosts')], { encoding: 'utf8' });
    return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ').slice(1, 3).join(' '));
  };

  test('ssh logs in as debian with ~/.ssh/id_ed25519 through the port-22 forward, runs the command, returns its exit code, and files the host key under stratus-<uid>', async () => {
    const server = await sshd();
    const uid = await vm('web-1', forwardTo(server.port));

    const r = await stratus(['ssh', 'web-1', '--', 'uname', '-a'], env(), '');
    expect(r.stderr).toMatch(/Permanently added 'stratus-/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran: uname -a\n');
    expect(server.execs).toEqual([{ user: 'debian', command: 'uname -a' }]);
    expect(knownKeys(`stratus-${uid}`)).toEqual([server.hostKey]);

    const again = await stratus(['ssh', 'web-1', '--', 'exit 3'], env(), '');
    expect(again.code).toBe(3);
    expect(again.stderr).toBe('');
  });

  test('a forward port reused by another VM with another host key: the new VM is reached, the old VM\'s alias refuses the changed key', async () => {
    const first = servers[0];
    const port = first.port;
    await first.close();
    const second = await sshd({ port });
    const uid2 = await vm('web-2', forwardTo(port));

    const r = await stratus(['ssh', 'web-2', '--', 'hostname'], env(), '');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran: hostname\n');
    expect(knownKeys(`stratus-${uid2}`)).toEqual([second.hostKey]);

    // web-1's status still points at the port (a stale status): its key no longer matches.
    const stale = await stratus(['ssh', 'web-1', '--', 'hostname'], env(), '');
    expect(stale.code).toBe(255);
    expect(stale.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expect(second.execs).toEqual([{ user: 'debian', command: 'hostname' }]);
  });

  test('scp copies a file to a VM and back (NAME:PATH)', async () => {
    const root = path.join(dir, 'guest-root');
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    const server = await sshd({ root });
    await vm('files-1', forwardTo(server.port));
    const src = path.join(dir, 'hello.txt');
    fs.writeFileSync(src, 'hello from the host\n');

    const up = await stratus(['scp', src, 'files-1:/tmp/in.txt'], env(), '');
    expect(up.stderr).toMatch(/^(Warning: Permanently added 'stratus-[^']+' \(ED25519\) to the list of known hosts.\s*)?$/);
    expect(up.code).toBe(0);
    expect(fs.readFileSync(path.join(root, 'tmp', 'in.txt'), 'utf8')).toBe('hello from the host\n');

    const back = path.join(dir, 'back.txt');
    const down = await stratus(['scp', 'debian@files-1:/tmp/in.txt', back], env(), '');
    expect(down.code).toBe(0);
    expect(fs.readFileSync(back, 'utf8')).toBe('hello from the host\n');
  });

  /** The CLI in-process with the program runner captured: what ssh/scp would have been run with. */
  async function cli(args: string[]): Promise<{ code: number; stderr: string; execs: Array<{ file: string; args: string[] }> }> {
    let stderr = '';
    const execs: Array<{ file: string; args: string[] }> = [];
    const code = await run(['node', 'stratus', ...args], {
      stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, stdin: Readable.from(['']),
      env: { STRATUS_CONFIG: config }, homedir: home,
      exec: async (file, a) => {
        execs.push({ file, args: a });
        return 0;
      },
    });
    return { code, stderr, execs };
  }

  test('a VM that is not running, runs on a hollow host, has no address yet or does not exist: exit 1 with the reason, and ssh is never run', async () => {
    await vm('stopped-1', { phase: 'Stopped' });
    await vm('booting-1', { phase: 'Running', interfaces: [] });

    const stopped = await cli(['ssh', 'stopped-1']);
    expect(stopped).toMatchObject({ code: 1, execs: [] });
    expect(stopped.stderr).toBe('error: VM demo/stopped-1 is not running (phase Stopped); start it with: stratus start stopped-1\n');

    const booting = await cli(['scp', 'a.txt', 'booting-1:']);
    expect(booting).toMatchObject({ code: 1, execs: [] });
    expect(booting.stderr).toMatch(/^error: VM demo\/booting-1 has no address yet/);

    await api.store.create(hostObject('hv-0007', { labels: { 'stratuslab.eu/hollow': 'true' } }));
    await vm('hollow-1', { phase: 'Running', host: 'hv-0007', ip: '192.168.0.1' });
    const hollow = await cli(['ssh', 'hollow-1']);
    expect(hollow).toMatchObject({ code: 1, execs: [] });
    expect(hollow.stderr).toBe('error: VM demo/hollow-1 runs on hollow host hv-0007 (libvirt\'s test driver): it has no guest to log into\n');

    const absent = await cli(['ssh', 'nope-1']);
    expect(absent).toMatchObject({ code: 1, execs: [] });
    expect(absent.stderr).toMatch(/NotFound/);

    expect(await cli(['scp', 'a.txt', 'b.txt'])).toMatchObject({ code: 2, execs: [] });
    expect(await cli(['scp', 'web-1:a', 'web-2:b'])).toMatchObject({ code: 2, execs: [] });
    expect(await cli(['ssh', 'root@web-1', '--user', 'admin'])).toMatchObject({ code: 2, execs: [] });
    const noKey = await cli(['ssh', 'web-1', '-i', path.join(dir, 'absent-key')]);
    expect(noKey).toMatchObject({ code: 1, execs: [] });
    expect(noKey.stderr).toContain('absent-key does not exist');
  });

  test('flags reach the command line: USER@, --user, -i, --ssh-option, -n, -r', async () => {
    const s2 = await cli(['ssh', 'root@web-2', '--ssh-option', 'BatchMode=yes', '--', 'ls', '-la']);
    expect(s2.code).toBe(0);
    const uid2 = (await api.store.get(vmKey('demo', 'web-2')))!.metadata.uid;
    const port = servers[1].port;
    expect(s2.execs).toEqual([{ file: 'ssh', args: [
      '-o', 'BatchMode=yes', '-i', path.join(home, '.ssh', 'id_ed25519'),
      '-o', `HostKeyAlias=stratus-${uid2}`, '-o', `UserKnownHostsFile=${path.join(home, '.stratus', 'known_hosts')}`, '-o', 'StrictHostKeyChecking=accept-new',
      '-p', String(port), '--', 'root@127.0.0.1', 'ls', '-la',
    ] }]);

    const key = path.join(dir, 'other-key');
    fs.writeFileSync(key, 'x');
    const l = await cli(['ssh', '-n', 'demo', '--user', 'admin', '-i', key, 'web-2']);
    expect(l.execs[0].args.slice(0, 2)).toEqual(['-i', key]);
    expect(l.execs[0].args.slice(-1)).toEqual(['admin@127.0.0.1']);

    const cp = await cli(['scp', '-r', 'web-2:/var/log', path.join(dir, 'logs')]);
    expect(cp.execs[0].file).toBe('scp');
    expect(cp.execs[0].args.slice(-6)).toEqual(['-P', String(port), '-r', '--', 'debian@127.0.0.1:/var/log', path.join(dir, 'logs')]);
  });
});
