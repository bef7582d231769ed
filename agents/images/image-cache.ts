/**
 * ImageCache: the Images with a `source.url`, downloaded once per agent process (hollow hosts
 * included) into a folder of the host, where VM disks and Volumes are cloned from them
 * copy-on-write, as from a `source.path`.
 *
 * A download streams to `<uid>.part` and is renamed into place only when complete (an agent that
 * dies mid-way leaves no half image that looks whole); one download per Image at a time, however
 * many VMs wait for it; they are told when it ends (`onSettled`). Progress is logged; a failed
 * download is retried after a delay that doubles (5 s to 5 min). The file is named after the
 * Image's uid: an Image deleted and created again under the same name is downloaded afresh.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import type { Logger } from 'pino';
import type { ImageObject } from '../../store';
import { systemClock, type Clock } from '../../runtime';

export type ImageState =
  | { state: 'ready'; path: string }
  | { state: 'downloading'; receivedBytes: number; totalBytes?: number }
  | { state: 'failed'; message: string; retryAt: number };

export interface ImageCacheOptions {
  /** the folder of downloaded images */
  dir: string;
  logger?: Logger;
  /** called when a download ends (done or failed), with the Image's uid */
  onSettled?: (uid: string) => void;
  /** first retry delay after a failure; default 5000 ms, doubling to 300 000 */
  retryMs?: number;
  clock?: Clock;
}

interface Entry {
  state: ImageState;
  failures: number;
}

export class ImageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(uid: string) => void>();
  private readonly clock: Clock;

  constructor(private readonly o: ImageCacheOptions) {
    this.clock = o.clock ?? systemClock;
    if (o.onSettled) this.listeners.add(o.onSettled);
  }

  /** Tells `fn` of every download that ends; returns the unsubscribe. */
  onSettled(fn: (uid: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The file of an Image downloaded here. */
  fileOf(img: Pick<ImageObject, 'metadata' | 'spec'>): string {
    return join(this.o.dir, `${img.metadata.uid}.${img.spec.format ?? 'qcow2'}`);
  }

  /**
   * Where the Image's content is on this host, or how its download goes; starts the download
   * (or the retry, once due) when there is none.
   */
  state(img: Pick<ImageObject, 'metadata' | 'spec'>): ImageState {
    const uid = img.metadata.uid ?? '';
    const e = this.entries.get(uid);
    if (e && (e.state.state !== 'failed' || this.clock.now() < e.state.retryAt)) return e.state;
    const entry: Entry = { state: { state: 'downloading', receivedBytes: 0 }, failures: e?.failures ?? 0 };
    this.entries.set(uid, entry);
    void this.fetch(img, entry);
    return entry.state;
  }

  private async fetch(img: Pick<ImageObject, 'metadata' | 'spec'>, entry: Entry): Promise<void> {
    const uid = img.metadata.uid ?? '';
    const url = img.spec.source?.url ?? '';
    const file = this.fileOf(img);
    const part = join(this.o.dir, `${uid}.part`);
    const log = this.o.logger?.child({ image: `${img.metadata.namespace}/${img.metadata.name}`, url });
    try {
      await mkdir(this.o.dir, { recursive: true });
      if (await stat(file).then(() => true, () => false)) {
        entry.state = { state: 'ready', path: file };
        return;
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
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          progress.receivedBytes += chunk.length;
          if (total && progress.receivedBytes / total >= nextLog) {
            log?.info({ percent: Math.floor((100 * progress.receivedBytes) / total) }, 'downloading an image');
            nextLog += 0.1;
          }
          done(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, createWriteStream(part));
      if (total !== undefined && progress.receivedBytes !== total) throw new Error(`GET ${url}: got ${progress.receivedBytes} of ${total} bytes`);
      await rename(part, file);
      entry.state = { state: 'ready', path: file };
      entry.failures = 0;
      log?.info({ bytes: progress.receivedBytes, file }, 'image downloaded');
    } catch (err) {
      await rm(part, { force: true }).catch(() => undefined);
      entry.failures++;
      const delay = Math.min(300_000, (this.o.retryMs ?? 5000) * 2 ** (entry.failures - 1));
      entry.state = { state: 'failed', message: (err as Error).message, retryAt: this.clock.now() + delay };
      log?.warn({ err: (err as Error).message, retryInMs: delay }, 'downloading an image failed');
    } finally {
      for (const fn of this.listeners) fn(uid);
    }
  }
}
