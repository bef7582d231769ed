/**
 * Benchmark of the libvirt binding on the test driver; prints one JSON object.
 * Run: npm run build && node dist/bench/libvirt.js [--domains N] [--connections N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LibvirtConnection, LibvirtExecutor, libvirtVersion, writeTestHost, type Domain } from '../libvirt';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function domainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
}

const MiB = 1024 * 1024;
const rssMiB = (): number => Math.round((process.memoryUsage().rss / MiB) * 10) / 10;

async function defineAndStart(conn: LibvirtConnection, name: string): Promise<Domain> {
  const dom = await conn.defineDomain(domainXml(name));
  await dom.start();
  return dom;
}

async function main(): Promise<void> {
  const domains = arg('domains', 1000);
  const connections = arg('connections', 1000);
  const dir = await mkdtemp(join(tmpdir(), 'stratus-bench-libvirt-'));
  const executor = new LibvirtExecutor({ threads: 4 });
  try {
    const uri = await writeTestHost(join(dir, 'host.xml'), { cpus: 64, memoryKiB: 256 * 1024 * 1024 });

    // Warm-up: start the worker threads and load libvirt in each.
    const warm = await LibvirtConnection.open(uri, { executor });
    await Promise.all(Array.from({ length: 8 }, (_, i) => defineAndStart(warm, `warm-${i}`)));
    await warm.close();

    const seqConn = await LibvirtConnection.open(uri, { executor });
    let t = performance.now();
    for (let i = 0; i < domains; i++) (await defineAndStart(seqConn, `seq-${i}`)).free();
    const sequentialMs = performance.now() - t;

    const latencies: number[] = [];
    const probe = (await seqConn.lookupDomainByName('seq-0'))!;
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now();
      await probe.getState();
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    probe.free();
    await seqConn.close();

    const concConn = await LibvirtConnection.open(uri, { executor });
    let maxTimerGapMs = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxTimerGapMs = Math.max(maxTimerGapMs, now - last);
      last = now;
    }, 1);
    t = performance.now();
    const doms = await Promise.all(Array.from({ length: domains }, (_, i) => defineAndStart(concConn, `conc-${i}`)));
    const concurrentMs = performance.now() - t;
    clearInterval(timer);
    doms.forEach((d) => d.free());
    await concConn.close();

    global.gc?.();
    const rssBefore = rssMiB();
    t = performance.now();
    const conns: LibvirtConnection[] = [];
    for (let i = 0; i < connections; i++) conns.push(await LibvirtConnection.open(uri, { executor }));
    const openMs = performance.now() - t;
    global.gc?.();
    const rssAfter = rssMiB();
    await Promise.all(conns.map((c) => c.close()));
    global.gc?.();
    const rssAfterClose = rssMiB();

    process.stdout.write(
      `${JSON.stringify(
        {
          libvirt: libvirtVersion(),
          node: process.version,
          threads: 4,
          domains,
          sequentialDefineStartPerSec: Math.round(domains / (sequentialMs / 1000)),
          concurrentDefineStartPerSec: Math.round(domains / (concurrentMs / 1000)),
          concurrentMaxTimerGapMs: Math.round(maxTimerGapMs * 10) / 10,
          getStateLatencyMs: {
            p50: Math.round(latencies[500] * 1000) / 1000,
            p99: Math.round(latencies[990] * 1000) / 1000,
          },
          connections,
          openConnectionsMs: Math.round(openMs),
          rssMiBBeforeConnections: rssBefore,
          rssMiBAfterConnections: rssAfter,
          rssMiBAfterClosingThem: rssAfterClose,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await executor.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
