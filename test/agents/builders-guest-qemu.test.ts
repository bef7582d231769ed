// The domain a real host defines for a guest (cloud-init seed disk, user-mode network with an SSH
// forward on qemu's command line, guest agent channel), defined (not started) on a real qemu
// session libvirtd: accepted, and read back with the same managed fields (no false drift).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { VirtualMachineObject } from '../../store';
import { OWNER_NS, fingerprintDiff, fingerprintOf, parseOwner } from '../../agents/domain';
import { resolveDesired, type HostContext } from '../../agents/vm/desired';
import { LibvirtConnection } from '../../libvirt';
import { describeIfAvailable } from '../helpers/prerequisites';
import { qemuUnavailable, startSessionLibvirtd, type SessionLibvirtd } from '../helpers/libvirtd';
import { until } from '../helpers/wait';

describeIfAvailable('builders-guest-qemu.test.ts', qemuUnavailable())('a guest domain on the qemu driver', () => {
  let dir: string;
  let libvirtd: SessionLibvirtd;
  let conn: LibvirtConnection;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-guest-qemu-'));
    fs.chmodSync(dir, 0o755);
    libvirtd = await startSessionLibvirtd(path.join(dir, 'libvirtd'));
    conn = await until('a libvirt connection', () => LibvirtConnection.open(libvirtd.uri), { timeoutMs: 10_000 });
  }, 30_000);

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await libvirtd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('libvirt keeps the seed disk, the qemu arguments, the channel and our metadata as built', async () => {
    const ctx: HostContext = {
      host: 'hv-1', virtType: 'qemu', consoleDir: path.join(dir, 'console'), pool: 'default', poolPaths: { default: dir }, defaultDiskBytes: 1 << 30,
      seedDir: path.join(dir, 'seeds'), forward: { address: '127.0.0.1', portOf: () => 22042 },
    };
    const vm: VirtualMachineObject = {
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
      metadata: { name: 'web', namespace: 'demo', uid: '6f1c2a4e-8d3b-11ee-b9d1-0242ac1200aa', generation: 1 },
      spec: { cpu: 1, memory: '256Mi', disks: [{ name: 'data', size: '1Gi' }], networks: [{ name: 'default' }], cloudInit: { userData: '#cloud-config\n' } },
    };
    const d = resolveDesired(vm, { images: {}, volumes: {} }, ctx).desired!;
    const dom = await conn.defineDomain(d.xml);
    try {
      const back = await dom.getXML({ inactive: true });
      expect(fingerprintDiff(fingerprintOf(d.xml), fingerprintOf(back))).toEqual([]);
      expect(fingerprintOf(back)).toMatchObject({ channels: ['org.qemu.guest_agent.0'], seed: d.seed!.hash });
      expect(fingerprintOf(back).qemuArgs).toContain('user,id=stratus-net0,hostfwd=tcp:127.0.0.1:22042-:22');
      expect(parseOwner((await dom.getMetadata(OWNER_NS))!)).toMatchObject({ seed: d.seed!.hash, sshPort: 22042 });
    } finally {
      await dom.undefine();
      dom.free();
    }
  });
});
