/**
 * The guest image build (npm run image:build, scripts/guest/build-image.sh) on this machine: the
 * first run builds the Debian image (slow: about 1-2 minutes) or reuses the machine's cache; the
 * second run reuses it (same folder, a "reusing" line, files untouched). Only the folder goes to
 * stdout; the folder holds a qcow2 whose recorded sha256 is its own, readable by the unprivileged
 * libvirtd, and image-manifest.js makes a valid Image of it.
 * Needs root, mmdebstrap, mkfs.ext4 and qemu-img: without them it fails in CI (CI=true) and skips
 * with the reason elsewhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import YAML from 'yaml';
import { Validator } from '../../schemas/validate';
import { REPO } from '../helpers/frontend';
import { describeIfAvailable } from '../helpers/prerequisites';

const FILES = ['disk.qcow2', 'disk.qcow2.sha256', 'vmlinuz', 'initrd.img', 'image.json'];

/** What this machine lacks to build the image, or undefined. */
function buildUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'building the guest image needs root (mmdebstrap chroots)';
  for (const [cmd, pkg] of [['mmdebstrap', 'mmdebstrap'], ['mkfs.ext4', 'e2fsprogs'], ['qemu-img', 'qemu-utils']]) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      return `${cmd} is not installed (scripts/apt-packages.txt: ${pkg}; bash scripts/ensure-deps.sh system)`;
    }
  }
  return undefined;
}

function stamps(folder: string): Record<string, { size: number; mtimeMs: number; ino: number }> {
  return Object.fromEntries(FILES.map((f) => {
    const st = statSync(join(folder, f));
    return [f, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }];
  }));
}

describeIfAvailable('image-build.test.ts', buildUnavailable())('the guest image build (slow on a machine without the cached image)', () => {
  test('a second run reuses the first one\'s image: same folder, a "reusing" line, files untouched', async () => {
    const first = spawnSync('npm', ['run', '--silent', 'image:build'], { cwd: REPO, encoding: 'utf8', timeout: 900_000 });
    expect(first.status).toBe(0);
    // stdout is the folder and nothing else (progress goes to stderr), so scripts can capture it.
    const folder = first.stdout.trim();
    expect(first.stdout).toBe(`${folder}\n`);
    expect(folder).toMatch(/\/debian-12-[0-9a-f]{12}$/);
    const before = stamps(folder);

    const second = spawnSync('bash', [join(REPO, 'scripts/guest/build-image.sh')], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(`${folder}\n`);
    expect(second.stderr).toMatch(new RegExp(`^image: reusing ${folder} \\(built \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\)$`, 'm'));
    expect(second.stderr).not.toMatch(/step 1\/4/);
    expect(stamps(folder)).toEqual(before);

    // The recorded sum is the disk's own; qemu-img agrees with image.json; libvirtd's user can read it all.
    const info = JSON.parse(readFileSync(join(folder, 'image.json'), 'utf8'));
    const hash = createHash('sha256');
    await pipeline(createReadStream(join(folder, 'disk.qcow2')), hash);
    const sum = hash.digest('hex');
    expect(readFileSync(join(folder, 'disk.qcow2.sha256'), 'utf8').trim()).toBe(sum);
    expect(info).toMatchObject({ name: 'debian-12', disk: 'disk.qcow2', format: 'qcow2', sha256: sum, kernel: 'vmlinuz', initrd: 'initrd.img' });
    const qemu = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-U', join(folder, 'disk.qcow2')], { encoding: 'utf8' }));
    expect({ format: qemu.format, size: qemu['virtual-size'] }).toEqual({ format: 'qcow2', size: info.virtualSize });
    for (const f of FILES) expect(statSync(join(folder, f)).mode & 0o004).toBe(0o004);
    expect(statSync(folder).mode & 0o005).toBe(0o005);

    const manifest = YAML.parse(execFileSync(process.execPath, [join(REPO, 'scripts/guest/image-manifest.js'), folder], { encoding: 'utf8' }));
    expect(new Validator().validate('Image', manifest).causes).toEqual([]);
    expect(manifest.spec).toMatchObject({ source: { path: join(folder, 'disk.qcow2'), sha256: sum }, format: 'qcow2', kernel: join(folder, 'vmlinuz') });
  }, 960_000);
});
