/**
 * The libvirt binding against libvirt's real test driver: each test opens its own isolated fake
 * hypervisor from a generated node file (test:///ABS/PATH.xml).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LibvirtConnection,
  LibvirtError,
  LibvirtExecutor,
  RESERVED_VOLUME_NAME,
  eventLoopRunning,
  isLibvirtError,
  testHostXml,
  writeTestHost,
  type DomainLifecycleEvent,
  type TestHostOptions,
} from '../../libvirt';
import { until } from '../helpers/wait';

const GiB = 1024 ** 3;
const NS = 'https://stratus.dev/xmlns/vm/1';

let dir: string;
let executor: LibvirtExecutor;
let hostCounter = 0;
const open: LibvirtConnection[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stratus-libvirt-'));
  executor = new LibvirtExecutor({ threads: 4 });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await executor.close();
  await rm(dir, { recursive: true, force: true });
});

async function host(options: Partial<TestHostOptions> = {}): Promise<LibvirtConnection> {
  const uri = await writeTestHost(join(dir, `host-${++hostCounter}.xml`), { cpus: 4, memoryKiB: 8 * 1024 * 1024, ...options });
  const conn = await LibvirtConnection.open(uri, { executor });
  open.push(conn);
  return conn;
}

function domainXml(name: string, options: { memoryMiB?: number; vcpus?: number } = {}): string {
  return `<domain type='test'>
  <name>${name}</name>
  <memory unit='MiB'>${options.memoryMiB ?? 256}</memory>
  <vcpu>${options.vcpus ?? 1}</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/stratus/${name}.img'/><target dev='vda'/></disk>
    <interface type='network'><source network='default'/><mac address='52:54:00:00:00:01'/></interface>
  </devices>
</domain>`;
}

function volumeXml(name: string, capacityBytes: number): string {
  return `<volume><name>${name}</name><capacity unit='bytes'>${capacityBytes}</capacity></volume>`;
}

async function rejection(p: Promise<unknown>): Promise<LibvirtError> {
  try {
    await p;
  } catch (err) {
    return err as LibvirtError;
  }
  throw new Error('expected a rejection');
}

describe('host', () => {
  test('node info reports the cpus, memory and mhz of the generated host file', async () => {
    const conn = await host({ cpus: 12, memoryKiB: 64 * 1024 * 1024, mhz: 3100 });
    const info = await conn.getNodeInfo();
    expect(info).toMatchObject({ cpus: 12, memoryKiB: 64 * 1024 * 1024, mhz: 3100, model: 'x86_64' });
    expect(await conn.getHostname()).toMatch(/.+/);
    expect(await conn.getCapabilities()).toContain('<capabilities>');
    expect(await conn.isAlive()).toBe(true);
  });

  test('two connections to two host files are isolated hypervisors', async () => {
    const a = await host({ cpus: 2 });
    const b = await host({ cpus: 32 });
    await a.defineDomain(domainXml('only-on-a'));
    expect((await a.getNodeInfo()).cpus).toBe(2);
    expect((await b.getNodeInfo()).cpus).toBe(32);
    expect((await a.listAllDomains()).map((d) => d.name)).toEqual(['only-on-a']);
    expect(await b.listAllDomains()).toEqual([]);
    expect(await b.lookupDomainByName('only-on-a')).toBeUndefined();
  });
});

describe('test host files', () => {
  test('a pool smaller than the driver’s fixed 100 GiB is modelled by a reserved volume', () => {
    const xml = testHostXml({ cpus: 2, memoryKiB: 1024, pools: [{ capacityBytes: 40 * GiB }] });
    expect(xml).toContain(`<name>${RESERVED_VOLUME_NAME}</name>`);
    expect(xml).toContain(`<allocation unit='bytes'>${60 * GiB}</allocation>`);
    expect(testHostXml({ cpus: 2, memoryKiB: 1024 })).not.toContain(RESERVED_VOLUME_NAME);
  });

  test('a pool above 100 GiB or a host without cpus is refused', () => {
    expect(() => testHostXml({ cpus: 2, memoryKiB: 1024, pools: [{ capacityBytes: 101 * GiB }] })).toThrow(RangeError);
    expect(() => testHostXml({ cpus: 0, memoryKiB: 1024 })).toThrow(RangeError);
  });
});

describe('domains', () => {
  test('a defined domain starts running, is destroyed to shutoff, and is gone after undefine', async () => {
    const conn = await host();
    const dom = await conn.defineDomain(domainXml('vm-1', { memoryMiB: 512, vcpus: 2 }));
    expect(dom.name).toBe('vm-1');
    expect(dom.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await dom.getState()).state).toBe('shutoff');

    await dom.start();
    expect(await dom.getState()).toMatchObject({ state: 'running', reason: 'booted' });
    expect(await dom.isActive()).toBe(true);
    expect(await dom.getInfo()).toMatchObject({ state: 'running', maxMemKiB: 512 * 1024, nrVirtCpu: 2 });
    expect(await dom.getXML()).toContain('<name>vm-1</name>');

    await dom.destroy();
    expect(await dom.getState()).toMatchObject({ state: 'shutoff', reason: 'destroyed' });
    expect(await dom.isActive()).toBe(false);

    await dom.undefine();
    expect(await conn.lookupDomainByName('vm-1')).toBeUndefined();
    expect(await conn.lookupDomainByUUID(dom.uuid)).toBeUndefined();
  });

  test('lookup by name and by UUID find the same domain', async () => {
    const conn = await host();
    const dom = await conn.defineDomain(domainXml('vm-lookup'));
    expect((await conn.lookupDomainByName('vm-lookup'))?.uuid).toBe(dom.uuid);
    expect((await conn.lookupDomainByUUID(dom.uuid))?.name).toBe('vm-lookup');
  });

  test('metadata set under a namespace reads back, and reads as undefined when absent or removed', async () => {
    const conn = await host();
    const dom = await conn.defineDomain(domainXml('vm-meta'));
    expect(await dom.getMetadata(NS)).toBeUndefined();

    await dom.setMetadata('<vm uid="1234" generation="7"/>', 'stratus', NS);
    expect(await dom.getMetadata(NS)).toBe('<vm uid="1234" generation="7"/>');
    expect(await dom.getXML()).toContain(NS);
    expect(await dom.getMetadata('https://other.example/ns')).toBeUndefined();

    await dom.setMetadata('a title', null, null, { type: 'title' });
    expect(await dom.getMetadata(null, { type: 'title' })).toBe('a title');

    await dom.setMetadata(null, 'stratus', NS);
    expect(await dom.getMetadata(NS)).toBeUndefined();
  });

  test('looking up a missing domain, pool or volume gives undefined', async () => {
    const conn = await host();
    expect(await conn.lookupDomainByName('nope')).toBeUndefined();
    expect(await conn.lookupDomainByUUID('11111111-2222-3333-4444-555555555555')).toBeUndefined();
    expect(await conn.lookupStoragePool('nope')).toBeUndefined();
    const pool = await conn.lookupStoragePool('default');
    expect(await conn.lookupVolume(pool!, 'nope')).toBeUndefined();
  });

  test('malformed domain XML fails with LibvirtError VIR_ERR_XML_DETAIL and the parser message', async () => {
    const conn = await host();
    const err = await rejection(conn.defineDomain('<domain'));
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err).toMatchObject({ name: 'LibvirtError', code: 'VIR_ERR_XML_DETAIL', number: 35, domain: 'VIR_FROM_DOMAIN' });
    expect(err.call).toBe('virDomainDefineXMLFlags');
    expect(err.message).toContain("Couldn't find end of Start Tag domain");
    expect(isLibvirtError(err, 'VIR_ERR_XML_DETAIL')).toBe(true);
  });

  test('well-formed but invalid domain XML fails with VIR_ERR_XML_ERROR', async () => {
    const conn = await host();
    const err = await rejection(conn.defineDomain(`<domain type='test'><name>x</name><memory>1024</memory></domain>`));
    expect(err).toMatchObject({ code: 'VIR_ERR_XML_ERROR', number: 27 });
    expect(err.message).toBe('XML error: an os <type> must be specified');
  });

  test('concurrent failing calls each report their own error, not another call’s', async () => {
    const conn = await host();
    const names = Array.from({ length: 60 }, (_, i) => `vm-err-${i}`);
    const doms = await Promise.all(names.map((n) => conn.defineDomain(domainXml(n))));
    await Promise.all(doms.map((d) => d.start()));
    const errors = await Promise.all(doms.map((d) => rejection(d.start())));
    errors.forEach((err, i) => {
      // The test driver reports a second start as an internal error naming the domain.
      expect(err.code).toBe('VIR_ERR_INTERNAL_ERROR');
      expect(err.message).toBe(`internal error: Domain '${names[i]}' is already running`);
    });
  });

  test('a freed domain refuses calls, and free waits for calls already in flight', async () => {
    const conn = await host();
    const dom = await conn.defineDomain(domainXml('vm-free'));
    const starting = dom.start();
    dom.free();
    await expect(starting).resolves.toBeUndefined();
    const err = await rejection(dom.getState());
    expect(err.code).toBe('VIR_ERR_INVALID_DOMAIN');
    expect((await conn.lookupDomainByName('vm-free'))?.name).toBe('vm-free');
  });

  test('block and interface counters and the state stats group are plain numbers', async () => {
    const conn = await host();
    const dom = await conn.defineDomain(domainXml('vm-stats'));
    await dom.start();
    const block = await dom.getBlockStats('vda');
    expect(Object.keys(block).sort()).toEqual(['errs', 'rdBytes', 'rdReq', 'wrBytes', 'wrReq']);
    Object.values(block).forEach((v) => expect(typeof v).toBe('number'));
    const net = await dom.getInterfaceStats('52:54:00:00:00:01');
    expect(typeof net.rxBytes).toBe('number');
    expect(await dom.getStats(['state'])).toEqual({ name: 'vm-stats', uuid: dom.uuid, stats: { 'state.state': 1, 'state.reason': 1 } });
    const all = await conn.getAllDomainStats(['state']);
    expect(all.map((r) => [r.name, r.stats['state.state']])).toEqual([['vm-stats', 1]]);
    const err = await rejection(dom.getBlockStats('vdz'));
    expect(err.code).toBe('VIR_ERR_INVALID_ARG');
  });

  test('interface addresses: typed interfaces with MAC and addresses from each source; a stopped domain has none', async () => {
    const conn = await host();
    // (an <interface type='network'> needs that network on the test host: user-mode has none)
    const dom = await conn.defineDomain(domainXml('vm-addr').replace(/<interface type='network'><source network='default'\/>/, "<interface type='user'>"));
    await dom.start();
    // The test driver makes addresses up (192.168.0.N), the same for every source and every call.
    const want = [{ name: 'testnet0', hwaddr: '52:54:00:00:00:01', addresses: [{ type: 'ipv4', address: '192.168.0.1', prefix: 24 }] }];
    for (const source of ['lease', 'agent', 'arp'] as const) expect(await dom.interfaceAddresses(source)).toEqual(want);
    expect(await dom.interfaceAddresses()).toEqual(want);
    await dom.destroy();
    const err = await rejection(dom.interfaceAddresses('lease'));
    expect(err.code).toBe('VIR_ERR_OPERATION_INVALID');
  });
});

describe('storage', () => {
  test('the host file’s default pool offers the capacity asked for', async () => {
    const conn = await host({ pools: [{ name: 'default', capacityBytes: 10 * GiB }] });
    const pools = await conn.listStoragePools();
    expect(pools.map((p) => p.name)).toEqual(['default']);
    const info = await conn.getStoragePoolInfo(pools[0]);
    expect(info).toMatchObject({ state: 'running', availableBytes: 10 * GiB });
  });

  test('volumes are created, cloned and deleted, and the pool refuses a volume beyond its space', async () => {
    const conn = await host({ pools: [{ name: 'default', capacityBytes: 10 * GiB }] });
    const pool = (await conn.lookupStoragePool('default'))!;
    const base = await conn.createVolume(pool, volumeXml('base.qcow2', 4 * GiB));
    expect(await base.getInfo()).toMatchObject({ type: 'file', capacityBytes: 4 * GiB });
    expect(await base.getPath()).toBe('/var/lib/stratus/pools/default/base.qcow2');

    const clone = await conn.createVolumeFrom(pool, volumeXml('vm-1-root.qcow2', 4 * GiB), base);
    expect(clone.name).toBe('vm-1-root.qcow2');
    expect((await pool.getInfo()).availableBytes).toBe(2 * GiB);
    expect((await conn.listVolumes(pool)).map((v) => v.name).sort()).toEqual(
      ['base.qcow2', RESERVED_VOLUME_NAME, 'vm-1-root.qcow2'].sort(),
    );

    const err = await rejection(conn.createVolume(pool, volumeXml('too-big', 3 * GiB)));
    expect(err.code).toBe('VIR_ERR_INTERNAL_ERROR');
    expect(err.message).toContain("Not enough free space in pool for volume 'too-big'");

    await conn.deleteVolume(clone);
    expect(await conn.lookupVolume(pool, 'vm-1-root.qcow2')).toBeUndefined();
    expect((await pool.getInfo()).availableBytes).toBe(6 * GiB);
  });

  test('a defined pool is inactive until created', async () => {
    const conn = await host();
    const pool = await conn.defineStoragePool(`<pool type='dir'><name>images</name><target><path>/images</path></target></pool>`);
    expect(await pool.isActive()).toBe(false);
    expect((await pool.getInfo()).state).toBe('inactive');
    await pool.create();
    expect(await pool.isActive()).toBe(true);
    expect((await conn.listStoragePools()).map((p) => p.name).sort()).toEqual(['default', 'images']);
  });
});

describe('events', () => {
  test('lifecycle events arrive for define, start, destroy and undefine, and stop after unsubscribe', async () => {
    const conn = await host();
    const events: DomainLifecycleEvent[] = [];
    const unsubscribe = await conn.onDomainLifecycle((e) => events.push(e));
    expect(eventLoopRunning()).toBe(true);

    const dom = await conn.defineDomain(domainXml('vm-ev'));
    await dom.start();
    await dom.destroy();
    await dom.undefine();
    await until('four lifecycle events', () => events.length >= 4, { timeoutMs: 5000, everyMs: 5 });
    expect(events.map((e) => `${e.event}/${e.detail}`)).toEqual([
      'defined/added',
      'started/booted',
      'stopped/destroyed',
      'undefined/removed',
    ]);
    expect(events.every((e) => e.name === 'vm-ev' && e.uuid === dom.uuid)).toBe(true);

    await unsubscribe();
    expect(eventLoopRunning()).toBe(false);
    await conn.defineDomain(domainXml('vm-after'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toHaveLength(4);
  });

  test('events from one host reach only that host’s listener', async () => {
    const a = await host();
    const b = await host();
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.onDomainLifecycle((e) => seenA.push(e.name));
    await b.onDomainLifecycle((e) => seenB.push(e.name));
    await a.defineDomain(domainXml('on-a'));
    await b.defineDomain(domainXml('on-b'));
    await until('an event on each connection', () => seenA.length >= 1 && seenB.length >= 1, { timeoutMs: 5000, everyMs: 5 });
    expect(seenA).toEqual(['on-a']);
    expect(seenB).toEqual(['on-b']);
    // afterEach closes both connections, which also ends both subscriptions.
  });
});

describe('concurrency', () => {
  test('500 concurrent define+start calls on one connection all succeed while timers keep firing', async () => {
    const conn = await host({ cpus: 64, memoryKiB: 512 * 1024 * 1024 });
    let started = 0;
    await conn.onDomainLifecycle((e) => {
      if (e.event === 'started') started++;
    });
    let ticks = 0;
    let maxGapMs = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      ticks++;
    }, 1);
    try {
      const t0 = Date.now();
      const doms = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const dom = await conn.defineDomain(domainXml(`vm-${i}`));
          await dom.start();
          return dom;
        }),
      );
      const elapsedMs = Date.now() - t0;
      expect(doms).toHaveLength(500);
      const states = await Promise.all(doms.map((d) => d.getState()));
      expect(states.every((s) => s.state === 'running')).toBe(true);
      expect((await conn.listAllDomains({ active: true })).length).toBe(500);
      await until('500 started events', () => started === 500, { timeoutMs: 5000, everyMs: 5 });
      // The main thread only posts messages, so the timer keeps firing. Had the calls run on the
      // main thread, there would be one gap as long as the whole run and hardly any ticks. (The
      // bound is loose because CPU contention from other processes also delays timers.)
      expect(ticks).toBeGreaterThan(Math.min(10, elapsedMs / 10));
      expect(maxGapMs).toBeLessThan(Math.max(250, elapsedMs / 2));
      doms.forEach((d) => d.free());
    } finally {
      clearInterval(timer);
    }
  });
});
