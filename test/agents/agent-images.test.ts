/**
 * Images, against real Cassandra, libvirt's test driver and a local HTTP server: the agent
 * downloads a source.url once, reports the download in the VM's Ready condition, clones the VM's
 * disk from the downloaded file, and reports a failed download (and retries it). Each copy (a
 * download, or the file at a source.path) is verified against spec.source.sha256 and the agent
 * writes the Image's status: Ready with sha256 and size, or ChecksumMismatch (the copy not used,
 * the VM says why), SourceNotFound; a path that does not exist and no sum is used unverified.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { StoredObject } from '../../store';
import { writeTestHost } from '../../libvirt';
import { parseVmVolumeName } from '../../agents/names';
import type { TestStore } from '../helpers/store';
import { startTestAgent, type TestAgent } from '../helpers/agent';
import { until } from '../helpers/wait';
import { conditionOf } from '../helpers/fixtures';

const HOST = 'hv-images';
const IMAGE = randomBytes(256 * 1024);
let t: TestStore;
let dir: string;
let ta: TestAgent;
let server: Server;
let base: string;
let gets = 0;
/** the image response waits for this (to see the download in progress) */
let release: () => void = () => undefined;
let gate = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  let flaky = 0;
  server = createServer((req, res) => {
    if (req.url === '/flaky.raw' && flaky++ === 0) {
      res.writeHead(503).end('busy');
      return;
    }
    if (req.url === '/flaky.raw') {
      res.writeHead(200, { 'content-length': IMAGE.length }).end(IMAGE);
      return;
    }
    if (req.url === '/verified.raw') {
      res.writeHead(200, { 'content-length': IMAGE.length }).end(IMAGE);
      return;
    }
    if (req.url !== '/disk.raw') {
      res.writeHead(404).end('not here');
      return;
    }
    gets++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': IMAGE.length });
    res.write(IMAGE.subarray(0, 1024));
    void gate.then(() => res.end(IMAGE.subarray(1024)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ta = await startTestAgent({
    name: 'agent_images', timings: { renewIntervalMs: 200, fenceAfterMs: 5000, heartbeatIntervalMs: 300, resyncMs: 2000 },
    hosts: async (d) => [{ name: HOST, libvirtUri: await writeTestHost(join(d, 'host.xml'), { cpus: 8, memoryKiB: 16 * 1024 * 1024, pools: [{ name: 'default', path: '/var/lib/stratus/pools/default', capacityBytes: 50 * 1024 ** 3 }] }) }],
  });
  ({ t, dir } = ta);
});

afterAll(async () => {
  release();
  await ta?.stop();
  await new Promise((r) => server.close(r));
});

const get = (kind: string, name: string) => t.store.get({ kind, namespace: 'demo', name });
const ready = (o: StoredObject | undefined) => conditionOf(o, 'Ready');

async function boundVm(name: string, image: string): Promise<void> {
  await t.store.create({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: 'demo' },
    spec: { cpu: 1, memory: '512Mi', disks: [{ name: 'root', image }] }, status: { host: HOST, phase: 'Scheduled' },
  });
}

test('an Image with a source.url is downloaded once, reported while it downloads, and VM disks are cloned from the local copy', async () => {
  const img = await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'net', namespace: 'demo' }, spec: { source: { url: `${base}/disk.raw` }, format: 'raw', size: '2Gi' } });
  await boundVm('net-1', 'net');
  await boundVm('net-2', 'net');
  const waiting = await until('ImageDownloading', async () => { const v = await get('VirtualMachine', 'net-1'); return ready(v)?.reason === 'ImageDownloading' ? v : undefined; });
  expect(ready(waiting)!.message).toMatch(new RegExp(`^Image net: downloading ${base}/disk.raw to host ${HOST}`));
  release();
  for (const n of ['net-1', 'net-2']) await until(`${n} Running`, async () => (await get('VirtualMachine', n))?.status?.phase === 'Running', 20_000);
  expect(gets).toBe(1); // one download for both VMs
  const file = join(dir, 'images', `${img.metadata.uid}.raw`);
  expect((await readFile(file)).equals(IMAGE)).toBe(true);
  // The VM's disk is a copy-on-write clone of the downloaded file.
  const conn = ta.proc.agents[0].conn!;
  const pool = (await conn.lookupStoragePool('default'))!;
  const vols = await pool.listVolumes();
  const names = vols.map((v) => v.name);
  vols.forEach((v) => v.free());
  const mine = names.find((n) => parseVmVolumeName(n)?.name === 'net-1')!;
  const vol = (await pool.lookupVolume(mine))!;
  expect(await vol.getXML()).toContain(`<path>${file}</path>`);
  vol.free();
  pool.free();
});

test('a download that fails is reported with the HTTP status and retried', async () => {
  await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'gone', namespace: 'demo' }, spec: { source: { url: `${base}/missing.qcow2` }, size: '2Gi' } });
  await boundVm('gone-1', 'gone');
  const v = await until('ImageDownloadFailed', async () => { const o = await get('VirtualMachine', 'gone-1'); return ready(o)?.reason === 'ImageDownloadFailed' ? o : undefined; });
  expect(ready(v)!.message).toBe(`Image gone: GET ${base}/missing.qcow2: HTTP 404; retrying`);
  expect(v.status!.phase).not.toBe('Running');

  // A server that fails once: the retry (5 s later) succeeds and the VM runs.
  await t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name: 'flaky', namespace: 'demo' }, spec: { source: { url: `${base}/flaky.raw` }, format: 'raw', size: '2Gi' } });
  await boundVm('flaky-1', 'flaky');
  await until('ImageDownloadFailed (503)', async () => ready(await get('VirtualMachine', 'flaky-1'))?.message?.includes('HTTP 503'));
  await until('Running after the retry', async () => (await get('VirtualMachine', 'flaky-1'))?.status?.phase === 'Running', 30_000);
});

const SUM = createHash('sha256').update(IMAGE).digest('hex');
const WRONG = createHash('sha256').update('something else').digest('hex');
const image = (name: string, source: Record<string, string>) => t.store.create({ apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image', metadata: { name, namespace: 'demo' }, spec: { source, format: 'raw', size: '2Gi' } });
/** The Image once its Ready condition has `reason`. */
const imageWith = (name: string, reason: string) => until(`Image ${name} ${reason}`, async () => { const o = await get('Image', name); return ready(o)?.reason === reason ? o : undefined; }, 20_000);
const vmWith = (name: string, reason: string) => until(`VM ${name} ${reason}`, async () => { const o = await get('VirtualMachine', name); return ready(o)?.reason === reason ? o : undefined; }, 20_000);

test('a source.path file whose sha256 differs is not used (Image ChecksumMismatch with both sums, the VM says why); the right sum makes it Ready with sha256 and size', async () => {
  const file = join(dir, 'local.raw');
  await writeFile(file, IMAGE);
  await image('local', { path: file, sha256: WRONG });
  await boundVm('local-1', 'local');
  const bad = await imageWith('local', 'ChecksumMismatch');
  expect(ready(bad)).toMatchObject({ status: 'False', message: `host ${HOST}: the sha256 of ${file} is ${SUM}, but spec.source.sha256 is ${WRONG}` });
  expect(bad.status).toMatchObject({ phase: 'Failed', sha256: SUM, hosts: [{ name: HOST, path: file, ready: false, reason: 'ChecksumMismatch' }] });
  const vm = await vmWith('local-1', 'ImageChecksumMismatch');
  expect(ready(vm)!.message).toBe(`Image local: the sha256 of ${file} is ${SUM}, but spec.source.sha256 is ${WRONG}`);
  expect(vm.status!.phase).not.toBe('Running');
  expect(ta.proc.agents[0].hasDomain('demo.local-1')).toBe(false);

  // The right sum (a new spec): verified again (from the remembered facts), Ready, and the VM runs.
  const cur = (await get('Image', 'local'))!;
  await t.store.update({ ...cur, spec: { ...cur.spec, source: { path: file, sha256: SUM } } });
  const good = await imageWith('local', 'Ready');
  expect(good.status).toMatchObject({ phase: 'Ready', sha256: SUM, size: '256Ki', format: 'raw', observedGeneration: 2, hosts: [{ name: HOST, path: file, ready: true, reason: 'Ready' }] });
  expect(ready(good)).toMatchObject({ status: 'True', message: `verified on host ${HOST} (sha256 ${SUM})` });
  await until('local-1 Running', async () => (await get('VirtualMachine', 'local-1'))?.status?.phase === 'Running', 20_000);
});

test('a downloaded copy is verified: the right sum is Ready, a wrong one is ChecksumMismatch and the file is deleted', async () => {
  const good = await image('dl-good', { url: `${base}/verified.raw`, sha256: SUM });
  const bad = await image('dl-bad', { url: `${base}/verified.raw`, sha256: WRONG });
  await boundVm('dl-good-1', 'dl-good');
  await boundVm('dl-bad-1', 'dl-bad');
  const ok = await imageWith('dl-good', 'Ready');
  const copy = join(dir, 'images', `${good.metadata.uid}.raw`);
  expect(ok.status).toMatchObject({ phase: 'Ready', sha256: SUM, size: '256Ki', hosts: [{ name: HOST, path: copy, ready: true }] });
  expect((await readFile(copy)).equals(IMAGE)).toBe(true);
  const failed = await imageWith('dl-bad', 'ChecksumMismatch');
  expect(ready(failed)!.message).toContain(`is ${SUM}, but spec.source.sha256 is ${WRONG}`);
  expect(failed.status!.sha256).toBe(SUM);
  await expect(stat(join(dir, 'images', `${bad.metadata.uid}.raw`))).rejects.toMatchObject({ code: 'ENOENT' });
  await vmWith('dl-bad-1', 'ImageChecksumMismatch');
  await until('dl-good-1 Running', async () => (await get('VirtualMachine', 'dl-good-1'))?.status?.phase === 'Running', 20_000);
  expect((await get('VirtualMachine', 'dl-bad-1'))!.status!.phase).not.toBe('Running');
});

test('on the test driver a missing source.path without a sum is used unverified; with a sum it is SourceNotFound', async () => {
  await image('nowhere', { path: '/images/nowhere.qcow2' });
  await boundVm('nowhere-1', 'nowhere');
  const unverified = await imageWith('nowhere', 'Unverified');
  expect(unverified.status).toMatchObject({ phase: 'Ready', hosts: [{ name: HOST, path: '/images/nowhere.qcow2', ready: true, reason: 'Unverified' }] });
  expect(unverified.status!.sha256).toBeUndefined();
  await until('nowhere-1 Running', async () => (await get('VirtualMachine', 'nowhere-1'))?.status?.phase === 'Running', 20_000);

  await image('missing', { path: '/images/missing.qcow2', sha256: SUM });
  await boundVm('missing-1', 'missing');
  const missing = await imageWith('missing', 'SourceNotFound');
  expect(ready(missing)!.message).toBe(`host ${HOST}: /images/missing.qcow2 does not exist on this host`);
  expect(ready(await vmWith('missing-1', 'ImageSourceNotFound'))!.message).toBe('Image missing: /images/missing.qcow2 does not exist on this host');
});
