/**
 * ImageCache: the copy of each Image that this agent process (a real host, or N hollow ones)
 * clones VM disks and Volumes from, verified before use. A `source.url` is downloaded into a
 * folder of the host; a `source.path` is the file already there. Either way the copy is hashed
 * (SHA-256) and, on a real host (`probe`), looked at with qemu-img; a copy whose sum differs from
 * spec.source.sha256, or whose format differs from spec.format, is not used (judge()).
 *
 * A download streams to a `.part` file, hashed as it arrives, and is renamed into place only when
 * complete; one download per Image at a time, however many VMs wait for it; a failed download is
 * retried after a delay that doubles (5 s to 5 min); a downloaded copy that fails verification is
 * deleted and not fetched again until the Image's spec changes. The file is named after the
 * Image's uid: an Image deleted and created again under the same name is downloaded afresh.
 *
 * A `source.path` is stat'ed again every `recheckMs`, and hashed only when its size or mtime
 * changed (FileInspector). On test-driver hosts only (`probe` false), a path that does not exist
 * and no sha256 is used unverified, as the test driver needs no file; with a sha256, or on a real
 * host, a missing file is SourceNotFound. Listeners hear of every verification or download that
 * ends (`onSettled`), so the VMs waiting for it are reconciled.
 */
import { createWriteStream, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import type { Logger } from 'pino';
import type { ImageObject } from '../../store';
import { systemClock, type Clock } from '../../runtime';
import { FileInspector } from './file-facts';
import { judge, type ImageState } from './verdict';

export type { ImageState, ImageFailure } from './verdict';

export interface ImageCacheOptions {
  /** the folder of downloaded images */
  dir: string;
  logger?: Logger;
  /** called when a download or verification ends (done or failed), with the Image's uid */
  onSettled?: (uid: string) => void;
  /** first retry delay after a failed download; default 5000 ms, doubling to 300 000 */
  retryMs?: number;
  /**
   * true on real hosts: qemu-img info checks the format and reads the virtual size, and a
   * `source.path` must exist. false (test-driver hosts): neither. Default false.
   */
  probe?: boolean;
  /** how often a `source.path` is stat'ed again (re-hashed only when it changed); default 60 000 ms */
  recheckMs?: number;
  /** default: a FileInspector of its own */
  inspector?: FileInspector;
  clock?: Clock;
}

type Img = Pick<ImageObject, 'metadata' | 'spec'>;

interface Entry {
  /** the spec fields the copy depends on: a change starts over */
  sig: string;
  state: ImageState;
  /** download failures in a row (the backoff) */
  failures: number;
  /** a download or verification is running */
  busy: boolean;
  /** a `source.path`: when to stat it again */
  checkAt: number;
  /** a `source.url` whose spec changed: the file there is not its content */
  stale: boolean;
}

function signature(img: Img): string {
  return JSON.stringify([img.spec.source ?? {}, img.spec.format ?? 'qcow2']);
}

export class ImageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(uid: string) => void>();
  private readonly clock: Clock;
  private readonly inspector: FileInspector;
  private readonly probe: boolean;
  private parts = 0;

  constructor(private readonly o: ImageCacheOptions) {
    this.clock = o.clock ?? systemClock;
    this.inspector = o.inspector ?? new FileInspector();
    this.probe = o.probe ?? false;
    if (o.onSettled) this.listeners.add(o.onSettled);
  }

  /** Tells `fn` of every download or verification that ends; returns the unsubscribe. */
  onSettled(fn: (uid: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The file of an Image downloaded here. */
  fileOf(img: Img): string {
    return join(this.o.dir, `${img.metadata.uid}.${img.spec.format ?? 'qcow2'}`);
  }

  /**
   * Where the Image's verified content is on this host, or how getting it goes; starts the
   * download or verification (or the retry, once due) when none runs. Images with neither a
   * url nor a path are not this cache's: undefined.
   */
  state(img: Img): ImageState | undefined {
    const src = img.spec.source;
    if (!src?.url && !src?.path) return undefined;
    const uid = img.metadata.uid ?? '';
    const sig = signature(img);
    let e = this.entries.get(uid);
    let stale = false;
    if (e && e.sig !== sig) {
      stale = Boolean(src.url);
      this.entries.delete(uid);
      e = undefined;
    }
    if (src.path) return this.pathState(img, uid, sig, src.path, e);
    const now = this.clock.now();
    if (e && (e.busy || e.state.state !== 'failed' || now < e.state.retryAt)) return e.state;
    const entry: Entry = { sig, state: { state: 'downloading', receivedBytes: 0 }, failures: e?.failures ?? 0, busy: true, checkAt: 0, stale };
    this.entries.set(uid, entry);
    void this.fetch(img, entry).finally(() => this.settle(uid, entry));
    return entry.state;
  }

  private settle(uid: string, entry: Entry): void {
    entry.busy = false;
    entry.checkAt = this.clock.now() + (this.o.recheckMs ?? 60_000);
    if (this.entries.get(uid) === entry) for (const fn of this.listeners) fn(uid);
  }

  /** A `source.path`: stat it (now and then), hash it when it changed, judge it. */
  private pathState(img: Img, uid: string, sig: string, path: string, e: Entry | undefined): ImageState {
    const now = this.clock.now();
    if (e && (e.busy || now < e.checkAt)) return e.state;
    const entry: Entry = e ?? { sig, state: { state: 'verifying', path }, failures: 0, busy: false, checkAt: 0, stale: false };
    this.entries.set(uid, entry);
    const recheck = this.o.recheckMs ?? 60_000;
    entry.checkAt = now + recheck;
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      entry.state = { state: 'failed', reason: 'SourceNotFound', message: `${path}: ${(err as Error).message}`, retryAt: now + recheck, path };
      return entry.state;
    }
    if (!st) {
      entry.state = !img.spec.source?.sha256 && !this.probe
        ? { state: 'ready', path }
        : { state: 'failed', reason: 'SourceNotFound', message: `${path} does not exist on this host`, retryAt: now + recheck, path };
      return entry.state;
    }
    if (!st.isFile()) {
      entry.state = { state: 'failed', reason: 'SourceNotFound', message: `${path} is not a file`, retryAt: now + recheck, path };
      return entry.state;
    }
    const known = this.inspector.cached(path, { size: st.size, mtimeMs: st.mtimeMs }, this.probe);
    if (known) {
      entry.state = judge(img, path, known);
      return entry.state;
    }
    entry.state = { state: 'verifying', path };
    entry.busy = true;
    void this.verifyPath(img, entry, path).finally(() => this.settle(uid, entry));
    return entry.state;
  }

  private async verifyPath(img: Img, entry: Entry, path: string): Promise<void> {
    const log = this.o.logger?.child({ image: `${img.metadata.namespace}/${img.metadata.name}`, path });
    const t0 = this.clock.now();
    try {
      const facts = await this.inspector.inspect(path, this.probe);
      const v = judge(img, path, facts);
      entry.state = v;
      log?.info({ sha256: facts.sha256, bytes: facts.bytes, ms: this.clock.now() - t0, verdict: v.state === 'ready' ? 'ready' : v.reason }, 'verified an image file');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const message = missing ? `${path} does not exist on this host` : `${path}: ${(err as Error).message}`;
      entry.state = { state: 'failed', reason: missing ? 'SourceNotFound' : 'InvalidImage', message, retryAt: this.clock.now() + (this.o.recheckMs ?? 60_000), path };
      log?.warn({ err: (err as Error).message }, 'verifying an image file failed');
    }
  }

  /** A `source.url`: the file already downloaded (verified again), or a download. */
  private async fetch(img: Img, entry: Entry): Promise<void> {
    const uid = img.metadata.uid ?? '';
    const url = img.spec.source?.url ?? '';
    const file = this.fileOf(img);
    const part = join(this.o.dir, `${uid}.${process.pid}-${++this.parts}.part`);
    const log = this.o.logger?.child({ image: `${img.metadata.namespace}/${img.metadata.name}`, url });
    try {
      await mkdir(this.o.dir, { recursive: true });
      if (entry.stale) await rm(file, { force: true });
      if (await stat(file).then(() => true, () => false)) {
        entry.state = { state: 'verifying', path: file };
        const v = judge(img, file, await this.inspector.inspect(file, this.probe));
        if (v.state === 'ready') {
          entry.state = v;
          return;
        }
        log?.warn({ reason: v.reason, message: v.message }, 'a downloaded image does not verify; downloading it again');
        await rm(file, { force: true });
      }
      // Node's fetch (undici): follows redirects; a stalled body fails after undici's idle timeout.
      const res = await fetch(url, { redirect: 'follow' });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        throw new Error(`GET ${url}: HTTP ${res.status}`);
      }
      const length = Number(res.headers.get('content-length'));
      const total = Number.isFinite(length) && length > 0 ? length : undefined;
      const progress = { state: 'downloading' as const, receivedBytes: 0, totalBytes: total };
      entry.state = progress;
      log?.info({ bytes: total }, 'downloading an image');
      let nextLog = 0.1;
      const hash = createHash('sha256');
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          progress.receivedBytes += chunk.length;
          hash.update(chunk);
          if (total && progress.receivedBytes / total >= nextLog) {
            log?.info({ percent: Math.floor((100 * progress.receivedBytes) / total) }, 'downloading an image');
            nextLog += 0.1;
          }
          done(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, createWriteStream(part));
      if (total !== undefined && progress.receivedBytes !== total) throw new Error(`GET ${url}: got ${progress.receivedBytes} of ${total} bytes`);
      if (this.entries.get(uid) !== entry) return; // the spec changed meanwhile: another download is under way
      await rename(part, file);
      const st = await stat(file);
      this.inspector.remember(file, { size: st.size, mtimeMs: st.mtimeMs }, { sha256: hash.digest('hex'), bytes: st.size });
      entry.state = { state: 'verifying', path: file };
      const v = judge(img, file, await this.inspector.inspect(file, this.probe));
      entry.failures = 0;
      if (v.state !== 'ready') {
        await rm(file, { force: true });
        log?.warn({ reason: v.reason, message: v.message }, 'the downloaded image does not verify: deleted, not used');
      } else {
        log?.info({ bytes: progress.receivedBytes, file, sha256: v.facts?.sha256 }, 'image downloaded');
      }
      entry.state = v;
    } catch (err) {
      entry.failures++;
      const delay = Math.min(300_000, (this.o.retryMs ?? 5000) * 2 ** (entry.failures - 1));
      entry.state = { state: 'failed', reason: 'DownloadFailed', message: (err as Error).message, retryAt: this.clock.now() + delay };
      log?.warn({ err: (err as Error).message, retryInMs: delay }, 'downloading an image failed');
    } finally {
      await rm(part, { force: true }).catch(() => undefined);
    }
  }
}
