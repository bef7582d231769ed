// scripts/guest/image-manifest.js: the Image manifest of a folder build-image.sh made (here a
// folder of the same shape with small files) validates, names the files and carries the sum;
// a folder that is not a build, or whose sums disagree, is refused with a message.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { Validator } from '../../schemas/validate';

const SCRIPT = join(__dirname, '../../scripts/guest/image-manifest.js');
const SUM = 'c'.repeat(64);
let dir: string;

const run = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stratus-manifest-'));
  for (const f of ['disk.qcow2', 'vmlinuz', 'initrd.img']) writeFileSync(join(dir, f), f);
  writeFileSync(join(dir, 'disk.qcow2.sha256'), `${SUM}\n`);
  writeFileSync(join(dir, 'image.json'), JSON.stringify({
    name: 'debian-12', suite: 'bookworm', recipe: '0123456789ab', disk: 'disk.qcow2', format: 'qcow2', sha256: SUM,
    virtualSize: 2147483648, kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'root=/dev/vda rw console=ttyS0 net.ifnames=0',
  }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('prints a valid Image with the disk, its sha256, format, size and direct kernel boot', () => {
  const r = run(dir);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const m = YAML.parse(r.stdout);
  expect(m).toEqual({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Image',
    metadata: { name: 'debian-12', namespace: 'demo', labels: { os: 'debian', release: '12', 'stratuslab.eu/recipe': '0123456789ab' } },
    spec: {
      source: { path: join(dir, 'disk.qcow2'), sha256: SUM }, format: 'qcow2', size: '2Gi',
      kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), cmdline: 'root=/dev/vda rw console=ttyS0 net.ifnames=0',
    },
  });
  const v = new Validator().validate('Image', m);
  expect(v.causes).toEqual([]);
  const json = JSON.parse(run(dir, '--name', 'guest', '--namespace', 'p1', '-o', 'json').stdout);
  expect(json.metadata).toMatchObject({ name: 'guest', namespace: 'p1' });
});

test('a folder that is not a build, or whose sums disagree, is refused (exit 2, a message)', () => {
  const none = run(tmpdir());
  expect(none.status).toBe(2);
  expect(none.stderr).toMatch(/image\.json/);
  expect(none.stdout).toBe('');
  writeFileSync(join(dir, 'disk.qcow2.sha256'), `${'d'.repeat(64)}\n`);
  const r = run(dir);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/disk\.qcow2\.sha256 and image\.json disagree on the sha256/);
  expect(run().stderr).toMatch(/give the folder/);
});
