// The domain of a VM on a Network as a real host defines it (an unmanaged tap, MAC, MTU, beside the
// user-mode default interface), defined (not started) on a real qemu session libvirtd: accepted,
// and read back with the same managed fields (no false drift, so no redefinition loop).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NetworkObject, VirtualMachineObject } from '../../store';
import { fingerprintDiff, fingerprintOf } from '../../agents/domain';
import { resolveDesired, type HostContext } from '../../agents/vm/desired';
import { macFor, tapName } from '../../kube/networks';
import { LibvirtConnection } from '../../libvirt';
import { describeIfAvailable } from '../helpers/prerequisites';
import { qemuUnavailable, startSessionLibvirtd, type SessionLibvirtd } from '../helpers/libvirtd';
import { until } from '../helpers/wait';

describeIfAvailable('builders-network-qemu.test.ts', qemuUnavailable())('a domain on a Network on the qemu driver', () => {
  let dir: string;
  let libvirtd: SessionLibvirtd;
  let conn: LibvirtConnection;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-net-qemu-'));
    fs.chmodSync(dir, 0o755);
    libvirtd = await startSessionLibvirtd(path.join(dir, 'libvirtd'));
    conn = await until('a libvirt connection', () => LibvirtConnection.open(libvirtd.uri), { timeoutMs: 10_000 });
  }, 30_000);

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await libvirtd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('libvirt keeps the tap (unmanaged), MAC and MTU as built', async () => {
    const uid = '6f1c2a4e-8d3b-11ee-b9d1-0242ac1200bb';
    const net: NetworkObject = { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { name: 'lan', namespace: 'demo', uid: 'net-uid' }, spec: { cidr: '10.20.0.0/24', mode: 'overlay' } };
    const ctx: HostContext = {
      host: 'hv-1', virtType: 'qemu', consoleDir: path.join(dir, 'console'), pool: 'default', poolPaths: { default: dir }, defaultDiskBytes: 1 << 30,
      forward: { address: '127.0.0.1', portOf: () => 22043 }, network: () => net,
    };
    const vm: VirtualMachineObject = {
      apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine',
      metadata: { name: 'web', namespace: 'demo', uid, generation: 1 },
      spec: { cpu: 1, memory: '256Mi', networks: [{ name: 'default' }, { name: 'lan', network: 'lan' }] },
      status: { host: 'hv-1', addresses: [{ name: 'lan', network: 'demo/lan', ipAddress: '10.20.0.5', prefixLength: 24, mac: macFor(uid, 1) }] },
    };
    const d = resolveDesired(vm, { images: {}, volumes: {} }, ctx).desired!;
    const dom = await conn.defineDomain(d.xml);
    try {
      const back = await dom.getXML({ inactive: true });
      expect(fingerprintDiff(fingerprintOf(d.xml), fingerprintOf(back))).toEqual([]);
      expect(fingerprintOf(back).nics).toEqual([{ type: 'ethernet', mac: macFor(uid, 1), model: 'virtio', tap: tapName(uid, 1), mtu: 1450 }]);
      expect(back).toMatch(new RegExp(`<target dev='${tapName(uid, 1)}' managed='no'/>`));
    } finally {
      await dom.undefine();
      dom.free();
    }
  });
});
