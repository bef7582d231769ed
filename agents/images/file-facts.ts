/**
 * FileInspector: what an image file is (its SHA-256 sum, and on a real host the format, virtual
 * size and backing file that `qemu-img info` reports), remembered per path, size and mtime, so a
 * 200 MB image is read once per change, not once per VM. Hashing streams the file; one at a time.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Sema } from 'async-sema';

const run = promisify(execFile);

/** What an image file is. `format`, `virtualSize`, `backingFile` only when it was probed. */
export interface FileFacts {
  sha256: string;
  /** the file's size in bytes */
  bytes: number;
  format?: string;
  virtualSize?: number;
  backingFile?: string;
  /** true when qemu-img looked at it */
  probed?: boolean;
}

/** The identity of a file's content, as cheaply as it can be had. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

export interface FileInspectorOptions {
  /** the qemu-img binary; default 'qemu-img' on PATH */
  qemuImg?: string;
  /** files hashed at once; default 1 (hashing is disk- and CPU-bound) */
  concurrency?: number;
  /** time allowed to qemu-img info; default 60 000 ms */
  probeTimeoutMs?: number;
}

/** The SHA-256 sum of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export class FileInspector {
  private readonly known = new Map<string, { stamp: FileStamp; facts: FileFacts }>();
  private readonly sema: Sema;

  constructor(private readonly o: FileInspectorOptions = {}) {
    this.sema = new Sema(Math.max(1, o.concurrency ?? 1));
  }

  /** The facts known for `path` at `stamp` (probed ones when `probe`), or undefined. */
  cached(path: string, stamp: FileStamp, probe: boolean): FileFacts | undefined {
    const k = this.known.get(path);
    if (!k || k.stamp.size !== stamp.size || k.stamp.mtimeMs !== stamp.mtimeMs) return undefined;
    return probe && !k.facts.probed ? undefined : k.facts;
  }

  /** Records facts found another way (a download hashes its bytes as they arrive). */
  remember(path: string, stamp: FileStamp, facts: FileFacts): void {
    this.known.set(path, { stamp: { size: stamp.size, mtimeMs: stamp.mtimeMs }, facts });
  }

  /** The facts of `path` now: hashed (and probed) only if it changed since last time. Throws ENOENT. */
  async inspect(path: string, probe: boolean): Promise<FileFacts> {
    const st = await stat(path);
    const stamp = { size: st.size, mtimeMs: st.mtimeMs };
    const hit = this.cached(path, stamp, probe);
    if (hit) return hit;
    let facts = this.cached(path, stamp, false);
    if (!facts) {
      await this.sema.acquire();
      try {
        facts = { sha256: await sha256File(path), bytes: st.size };
      } finally {
        this.sema.release();
      }
    }
    if (probe) facts = { ...facts, ...(await this.probe(path)), probed: true };
    this.remember(path, stamp, facts);
    return facts;
  }

  /** Format, virtual size and backing file by `qemu-img info --output=json` (-U: VMs may use it). */
  private async probe(path: string): Promise<Pick<FileFacts, 'format' | 'virtualSize' | 'backingFile'>> {
    const { stdout } = await run(this.o.qemuImg ?? 'qemu-img', ['info', '--output=json', '-U', path], {
      timeout: this.o.probeTimeoutMs ?? 60_000, maxBuffer: 1 << 20,
    });
    const info = JSON.parse(stdout) as { format?: string; 'virtual-size'?: number; 'backing-filename'?: string };
    const out: Pick<FileFacts, 'format' | 'virtualSize' | 'backingFile'> = {};
    if (info.format) out.format = info.format;
    if (typeof info['virtual-size'] === 'number') out.virtualSize = info['virtual-size'];
    if (info['backing-filename']) out.backingFile = info['backing-filename'];
    return out;
  }
}
