// FileInspector on real files: the SHA-256 sum is computed once per path, size and mtime (a VM
// does not re-hash a 200 MB image), and qemu-img reports the format and virtual size of a real
// qcow2 (on real hosts); ImageCache as on a real host (probe): the format must be the declared
// one and a source.path must exist. Needs qemu-img for the probe: fails in CI without it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileInspector } from '../../agents/images/file-facts';
import { ImageCache, type ImageState } from '../../agents/images/image-cache';
import type { ImageObject } from '../../store';
import { describeIfAvailable } from '../helpers/prerequisites';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'stratus-image-files-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the sum is computed once per path, size and mtime: same stamp, no re-read; a new mtime, a new sum', async () => {
  const file = join(dir, 'a.raw');
  const when = new Date('2024-05-01T10:00:00Z');
  writeFileSync(file, 'first content');
  utimesSync(file, when, when);
  const fi = new FileInspector();
  const first = await fi.inspect(file, false);
  expect(first).toEqual({ sha256: sha('first content'), bytes: 13 });
  // Same size and mtime, other bytes: the remembered sum is returned (the file was not read again).
  writeFileSync(file, 'other content');
  utimesSync(file, when, when);
  expect((await fi.inspect(file, false)).sha256).toBe(sha('first content'));
  expect(fi.cached(file, { size: 13, mtimeMs: when.getTime() }, false)?.sha256).toBe(sha('first content'));
  // A new mtime: hashed again.
  utimesSync(file, when, new Date(when.getTime() + 5000));
  expect((await fi.inspect(file, false)).sha256).toBe(sha('other content'));
  await expect(fi.inspect(join(dir, 'missing'), false)).rejects.toMatchObject({ code: 'ENOENT' });
});

function qemuImgMissing(): string | undefined {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'qemu-img is not installed (Debian package qemu-utils)';
  }
}

describeIfAvailable('agent-image-files.unit.test.ts', qemuImgMissing())('probing with qemu-img (real hosts)', () => {
  test('a qcow2 is reported with its format, virtual size and backing file; the sum is kept', async () => {
    const base = join(dir, 'base.qcow2');
    const overlay = join(dir, 'overlay.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, overlay]);
    const fi = new FileInspector();
    const plain = await fi.inspect(base, false);
    expect(plain.format).toBeUndefined();
    const probed = await fi.inspect(base, true);
    expect(probed).toMatchObject({ sha256: plain.sha256, format: 'qcow2', virtualSize: 64 * 1024 ** 2, probed: true });
    expect(probed.backingFile).toBeUndefined();
    expect(await fi.inspect(overlay, true)).toMatchObject({ format: 'qcow2', virtualSize: 64 * 1024 ** 2, backingFile: base });
    const raw = join(dir, 'b.raw');
    writeFileSync(raw, Buffer.alloc(4096));
    expect(await fi.inspect(raw, true)).toMatchObject({ format: 'raw', virtualSize: 4096, bytes: 4096 });
  });

  test('a real host\'s cache probes the copy: the declared format is Ready with the virtual size, another is FormatMismatch, a missing path is SourceNotFound', async () => {
    const file = join(dir, 'real.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '32M']);
    const settled = new Set<string>();
    const cache = new ImageCache({ dir: join(dir, 'images'), probe: true, onSettled: (uid) => settled.add(uid) });
    const img = (uid: string, source: Record<string, string>, format: 'qcow2' | 'raw') =>
      ({ metadata: { name: uid, namespace: 'demo', uid }, spec: { source, format } }) as unknown as ImageObject;
    const settle = async (i: ImageObject): Promise<ImageState | undefined> => {
      const first = cache.state(i);
      if (first?.state !== 'verifying') return first;
      while (!settled.has(i.metadata.uid!)) await new Promise((r) => setTimeout(r, 10));
      return cache.state(i);
    };
    const sum = sha(readFileSync(file));
    expect(await settle(img('q', { path: file, sha256: sum }, 'qcow2'))).toMatchObject({ state: 'ready', path: file, facts: { sha256: sum, format: 'qcow2', virtualSize: 32 * 1024 ** 2 } });
    expect(await settle(img('r', { path: file }, 'raw'))).toMatchObject({ state: 'failed', reason: 'FormatMismatch', message: `${file} is a qcow2 image (qemu-img info), but spec.format is raw` });
    expect(await settle(img('m', { path: join(dir, 'none.qcow2') }, 'qcow2'))).toMatchObject({ state: 'failed', reason: 'SourceNotFound' });
  });
});
