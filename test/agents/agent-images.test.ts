/**
 * Images with a source.url, against real Cassandra, libvirt's test driver and a local HTTP
 * server: the agent downloads the image once, reports the download in the VM's Ready condition,
 * clones the VM's disk from the downloaded file, and reports a failed download (and retries it).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
