/**
 * The cloud-init seed ISOs of one host's VMs (`<dir>/<namespace>.<name>.iso`, volume label
 * cidata), made with xorriso and written atomically (a running qemu keeps the file it opened),
 * readable by the unprivileged user qemu may run as; beside each, `<iso>.sha256` holds the hash
 * of the content it was made from (written after the ISO, so a crash between the two only causes
 * a rebuild). The files' content (user data can hold secrets) is never logged.
 */
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEED_FILE_NAMES, type SeedFiles } from '../domain/seed';
import { seedFileName } from '../names';

export interface SeedStoreOptions {
  /** the folder of this host's seeds */
  dir: string;
  /** the xorriso program; default 'xorriso' (Debian package xorriso) */
  xorriso?: string;
  /** how long xorriso may take; default 30 000 ms */
  timeoutMs?: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return reject(new Error(`${cmd} not found: install the Debian package xorriso`));
      reject(new Error(`${cmd} failed: ${String(stderr).trim().split('\n').slice(-3).join('; ') || e.message}`));
    });
  });
}

export class SeedStore {
  readonly dir: string;
  private readonly xorriso: string;
  private readonly timeoutMs: number;

  constructor(o: SeedStoreOptions) {
    this.dir = o.dir;
    this.xorriso = o.xorriso ?? 'xorriso';
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  pathOf(namespace: string, name: string): string {
    return join(this.dir, seedFileName(namespace, name));
  }

  /**
   * What is at `path`: undefined when nothing (neither the ISO nor its hash file), else the hash
   * the ISO was made from (undefined when unknown: the hash file is missing or stale).
   */
  async current(path: string): Promise<{ hash?: string } | undefined> {
    const [iso, hash] = await Promise.all([
      access(path).then(() => true, () => false),
      readFile(`${path}.sha256`, 'utf8').then((s) => s.trim(), () => undefined),
    ]);
    if (!iso) return hash === undefined ? undefined : {};
    return hash === undefined ? {} : { hash };
  }

  /** Makes the seed ISO at `path` from `files`, replacing any earlier one at once. */
  async write(path: string, files: SeedFiles, hash: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await chmod(this.dir, 0o755);
    // The files are readable by root only until they are in the ISO.
    const src = await mkdtemp(join(this.dir, '.seed-'));
    const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
    try {
      for (const name of SEED_FILE_NAMES) await writeFile(join(src, name), files[name], { mode: 0o600 });
      await run(this.xorriso, ['-as', 'mkisofs', '-quiet', '-o', tmp, '-V', 'cidata', '-J', '-r', src], this.timeoutMs);
      await chmod(tmp, 0o644);
      await rename(tmp, path);
      await writeFile(`${tmp}.sha256`, `${hash}\n`, { mode: 0o644 });
      await rename(`${tmp}.sha256`, `${path}.sha256`);
    } finally {
      await rm(src, { recursive: true, force: true });
      await rm(tmp, { force: true });
      await rm(`${tmp}.sha256`, { force: true });
    }
  }

  /** Removes the seed at `path` (nothing if there is none). */
  async remove(path: string): Promise<void> {
    await rm(`${path}.sha256`, { force: true });
    await rm(path, { force: true });
  }
}
