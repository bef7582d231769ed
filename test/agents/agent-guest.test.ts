/**
 * The guest side of the agent against a real Cassandra node and libvirt's test driver: the
 * cloud-init seed ISO (built with xorriso when asked, read back here), RestartRequired when the
 * user data changes under a running domain, status.interfaces/ip from the lease source written
 * once and kept stable, everything removed with the VM, and user data in no log line.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { StoredObject } from '../../store';
import type { InterfaceStatus } from '../../schemas/types.gen';
import { OWNER_NS, macFor, parseOwner } from '../../agents/domain';
import { agentLogger } from '../../agents/logger';
import { writeTestHost, type LibvirtConnection } from '../../libvirt';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { vmKey } from '../helpers/fixtures';
import { describeIfAvailable } from '../helpers/prerequisites';

const HOST = 'hv-guest';
const SECRET = 'hunter2-s3cr3t-token';
const USER_DATA = `#cloud-config\nwrite_files:\n  - path: /etc/app-token\n    content: ${SECRET}\n`;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINIVfS0Zq4I/LrkWSBVdQMr4XKZ2WD63baShgRR2gelt alice@laptop';

function hasXorriso(): string | undefined {
  try {
    execFileSync('xorriso', ['-version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'xorriso is not installed (scripts/apt-packages.txt: xorriso)';
  }
}

describeIfAvailable('agent-guest.test.ts', hasXorriso())('the agent and the guest', () => {
  let agent: TestAgent;
  let conn: LibvirtConnection;
  const logLines: string[] = [];

  beforeAll(async () => {
    const capture = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
    agent = await startTestAgent({
      name: 'guest', seeds: 'on', logger: agentLogger('debug', capture),
      addresses: { fastMs: 150, steadyMs: 300, sources: ['lease'] },
      hosts: async (dir) => [{
        name: HOST,
        libvirtUri: await writeTestHost(join(dir, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/pools/default', capacityBytes: 50 * 1024 ** 3 }] }),
      }],
      timings: { renewIntervalMs: 200, fenceAfterMs: 3000, heartbeatIntervalMs: 300, resyncMs: 1500, shutdownGraceMs: 300 },
    });
    conn = agent.proc.agents[0].conn!;
  });

  afterAll(() => agent?.stop());

  const key = (name: string) => vmKey('demo', name);
  const vm = (name: string) => agent.t.store.get(key(name));
  const seedPath = (name: string) => join(agent.dir, 'seeds', HOST, `demo.${name}.iso`);
  const cond = (o: StoredObject | undefined, type: string) => (o?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);

  async function createVm(name: string, spec: Record<string, unknown>): Promise<StoredObject> {
    const created = await agent.t.store.create({
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
      spec: { cpu: 1, memory: '512Mi', ...spec },
    });
    await agent.t.store.guaranteedUpdate(key(name), (cur) => {
      cur.status = { ...(cur.status ?? {}), host: HOST, phase: 'Scheduled', conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `bound to ${HOST}` }] };
      return cur;
    }, { status: true });
    return created;
  }

  async function setSpec(name: string, change: (spec: Record<string, any>) => void): Promise<void> {
    await agent.t.store.guaranteedUpdate(key(name), (cur) => {
      const spec = structuredClone(cur.spec) as Record<string, any>;
      change(spec);
      return { ...cur, spec };
    });
  }

  /** The files of a seed ISO, read back with xorriso. */
  function readSeed(path: string): Record<string, string> {
    const out = fs.mkdtempSync(join(os.tmpdir(), 'stratus-seed-'));
    try {
      execFileSync('xorriso', ['-osirrox', 'on', '-indev', path, '-extract', '/', out], { stdio: 'ignore' });
      return Object.fromEntries(fs.readdirSync(out).map((f) => [f, fs.readFileSync(join(out, f), 'utf8')]));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }

  async function domainXml(name: string, live = true): Promise<string> {
    const d = (await conn.lookupDomainByName(`demo.${name}`))!;
    try {
      return live ? await d.getXML() : await d.getXML({ inactive: true });
    } finally {
      d.free();
    }
  }

  test('a VM gets a NoCloud seed ISO: label cidata, meta-data, user-data and network-config; readable by all, attached read-only', async () => {
    const created = await createVm('g1', { cloudInit: { userData: USER_DATA, sshAuthorizedKeys: [KEY] } });
    await until('Running', async () => ((await vm('g1'))?.status?.phase === 'Running' ? true : undefined));
    const path = seedPath('g1');
    expect(fs.statSync(path).mode & 0o777).toBe(0o644);
    expect(fs.statSync(join(agent.dir, 'seeds', HOST)).mode & 0o777).toBe(0o755);
    expect(execFileSync('xorriso', ['-indev', path, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/Volume Id\s*:\s*cidata/);
    const files = readSeed(path);
    expect(Object.keys(files).sort()).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(files['meta-data']).toBe(`instance-id: ${created.metadata.uid}\nlocal-hostname: g1\npublic-keys:\n  - ${KEY}\n`);
    expect(files['user-data']).toBe(USER_DATA);
    expect(files['network-config']).toContain(`macaddress: "${macFor(created.metadata.uid!, 0)}"`);
    const xml = await domainXml('g1');
    expect(xml).toContain(`<source file='${path}'/>`);
    expect(xml).toMatch(/<readonly\/>/);
    expect(xml).not.toContain(SECRET);
    expect(fs.readFileSync(`${path}.sha256`, 'utf8').trim()).toBe(parseOwner(xml)?.seed);
    // nothing of the seed's making is left behind
    expect(fs.readdirSync(join(agent.dir, 'seeds', HOST)).sort()).toEqual(['demo.g1.iso', 'demo.g1.iso.sha256']);
  });

  test('status.interfaces and status.ip come from the lease source, by MAC, and are then left alone', async () => {
    const o = await until('addresses', async () => {
      const x = await vm('g1');
      return x?.status?.ip ? x : undefined;
    });
    const mac = macFor(o.metadata.uid!, 0);
    expect(o.status!.interfaces).toEqual([{ name: 'default', mac, ipAddress: '192.168.0.1', ipAddresses: ['192.168.0.1'], infoSource: 'lease' }] satisfies InterfaceStatus[]);
    expect(o.status!.ip).toBe('192.168.0.1');
    // several polls later: no new write
    const rv = o.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await vm('g1'))!.metadata.resourceVersion).toBe(rv);
  });

  test('user data changed under the running domain: the seed is rebuilt and RestartRequired is True until it boots again', async () => {
    const before = readSeed(seedPath('g1'));
    await setSpec('g1', (s) => { s.cloudInit.userData = '#cloud-config\nruncmd: [echo changed]\n'; });
    const o = await until('RestartRequired', async () => {
      const x = await vm('g1');
      return cond(x, 'RestartRequired')?.status === 'True' && x?.status?.observedGeneration === x?.metadata.generation ? x : undefined;
    });
    expect(cond(o, 'RestartRequired')).toMatchObject({ reason: 'CloudInitChanged', message: expect.stringContaining('next boot') });
    expect(o.status!.phase).toBe('Running');
    const after = readSeed(seedPath('g1'));
    expect(after['user-data']).toBe('#cloud-config\nruncmd: [echo changed]\n');
    expect(after['meta-data']).toBe(before['meta-data']);
    // the persistent definition names the new seed; the running domain still the old one
    expect(parseOwner(await domainXml('g1', false))?.seed).not.toBe(parseOwner(await domainXml('g1'))?.seed);

    // Stopped: no restart is pending any more, and the addresses go.
    await setSpec('g1', (s) => { s.runStrategy = 'Halted'; });
    const stopped = await until('Stopped', async () => {
      const x = await vm('g1');
      return x?.status?.phase === 'Stopped' ? x : undefined;
    });
    expect(cond(stopped, 'RestartRequired')).toBeUndefined();
    expect(stopped.status!.interfaces).toBeUndefined();
    expect(stopped.status!.ip).toBeUndefined();

    // Started again: booted with the current seed, addresses back.
    await setSpec('g1', (s) => { s.runStrategy = 'Always'; });
    const back = await until('Running with addresses', async () => {
      const x = await vm('g1');
      return x?.status?.phase === 'Running' && x.status.ip ? x : undefined;
    });
    expect(cond(back, 'RestartRequired')).toBeUndefined();
    const d = (await conn.lookupDomainByName('demo.g1'))!;
    expect(parseOwner((await d.getMetadata(OWNER_NS))!)?.seed).toBe(fs.readFileSync(`${seedPath('g1')}.sha256`, 'utf8').trim());
    d.free();
  });

  test('deleting the VM removes its seed', async () => {
    await agent.t.store.delete(key('g1'));
    await until('the VM gone', async () => ((await vm('g1')) === undefined ? true : undefined));
    expect(fs.existsSync(seedPath('g1'))).toBe(false);
    expect(fs.existsSync(`${seedPath('g1')}.sha256`)).toBe(false);
  });

  test('the user data is in no line the agent logged', () => {
    const log = logLines.join('');
    expect(log).toContain('converged domain');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain('write_files');
    // and a VM logged whole has it redacted
    const lines: string[] = [];
    const l = agentLogger('info', new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
    l.info({ vm: { spec: { cloudInit: { userData: SECRET } } } }, 'x');
    l.flush?.();
    expect(lines.join('')).not.toContain(SECRET);
    expect(lines.join('')).toContain('[redacted]');
  });
});
