/**
 * Reading a console log as pods/log does: the last N lines (tailLines), then, with follow, what
 * the guest writes next (polling the file's size; a file that shrinks was truncated or replaced
 * and is read again from its start). Plain file I/O, no Stratus types.
 */
import { open, stat } from 'node:fs/promises';

/** The most a tail scans backwards for its lines: a log without newlines is cut there. */
const MAX_TAIL_SCAN = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** Where the last `lines` lines of the file start, and its size; a missing file is empty. */
export async function tailStart(path: string, lines: number | undefined): Promise<{ start: number; size: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { start: 0, size: 0 };
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    if (lines === undefined) return { start: 0, size };
    if (lines <= 0) return { start: size, size };
    const floor = Math.max(0, size - MAX_TAIL_SCAN);
    let pos = size;
    // A final newline ends the last line; it does not start another one.
    let skipTrailing = true;
    let seen = 0;
    const buf = Buffer.alloc(CHUNK);
    while (pos > floor) {
      const len = Math.min(CHUNK, pos - floor);
      pos -= len;
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      for (let i = bytesRead - 1; i >= 0; i--) {
        if (buf[i] !== 0x0a) {
          skipTrailing = false;
          continue;
        }
        if (skipTrailing && pos + i === size - 1) continue;
        if (++seen === lines) return { start: pos + i + 1, size };
      }
    }
    return { start: floor, size };
  } finally {
    await fh.close();
  }
}

/** Writes bytes [from, to) of the file to `write`, in chunks; returns where it stopped. */
export async function copyRange(path: string, from: number, to: number, write: (chunk: Buffer) => Promise<void>): Promise<number> {
  if (to <= from) return from;
  const fh = await open(path, 'r');
  try {
    let pos = from;
    const buf = Buffer.alloc(CHUNK);
    while (pos < to) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, to - pos), pos);
      if (bytesRead === 0) break;
      await write(Buffer.from(buf.subarray(0, bytesRead)));
      pos += bytesRead;
    }
    return pos;
  } finally {
    await fh.close();
  }
}

/** The file's size now (0 when it does not exist). */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
