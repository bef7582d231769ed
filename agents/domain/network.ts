/**
 * Domain XML builder: network interfaces. An interface on a Network is a tap (stt-…) the agent
 * created beforehand on the network's host bridge, which libvirt only opens
 * (<interface type='ethernet'> with managed='no'): an unprivileged (session) libvirtd can neither
 * create taps nor enslave them. Without a Network, the name
 * "default" is user-mode networking (no host setup needed) and any other name a libvirt network
 * of that name on the host (legacy).
 * On real hosts the user-mode interface is given on qemu's command line instead (libvirt 9.0 has
 * no passt backend, and its <interface type='user'> cannot forward a port in session mode), with
 * the guest's SSH port forwarded from a port of the hypervisor.
 * Pure; one of the small builders composed by domain.ts.
 */
import { esc } from './xml';
import type { DomainForward, DomainNic } from './types';

/** The XML namespace of libvirt's qemu pass-through (<qemu:commandline>). */
export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** The guest port forwarded from the hypervisor on real hosts: SSH. */
export const GUEST_SSH_PORT = 22;

/** The qemu netdev id of the user-mode interface. */
export const USER_NETDEV = 'stratus-net0';

/**
 * The PCI slot of the user-mode NIC: given explicitly, else qemu would take a slot libvirt
 * assigns to its own devices; 0x1e is the last one libvirt leaves alone on the i440fx bus.
 */
const USER_NIC_SLOT = '0x1e';

const QEMU_DEVICE: Record<DomainNic['model'], string> = { virtio: 'virtio-net-pci', e1000: 'e1000', rtl8139: 'rtl8139' };

/** Moved to kube/networks.ts (the scheduler writes MACs into status.addresses); re-exported here. */
export { macFor } from '../../kube/networks';

/** The user-mode interface: named "default" and on no Network. */
export function isUserNet(n: Pick<DomainNic, 'name' | 'tap'>): boolean {
  return n.name === 'default' && !n.tap;
}

/**
 * <interface> elements; with `commandLine`, the user-mode "default" interface is left to
 * userNetArgs() (qemu's command line) and has none.
 */
export function buildNetwork(nics: DomainNic[], options: { commandLine?: boolean } = {}): string {
  return nics
    .filter((n) => !(options.commandLine && isUserNet(n)))
    .map((n) => {
      if (n.tap) {
        return [
          `<interface type='ethernet'>`,
          `  <target dev='${esc(n.tap.name)}' managed='no'/>`,
          `  <mac address='${esc(n.mac)}'/>`,
          `  <model type='${esc(n.model)}'/>`,
          ...(n.tap.mtu !== undefined ? [`  <mtu size='${n.tap.mtu}'/>`] : []),
          `</interface>`,
        ].join('\n');
      }
      const user = isUserNet(n);
      const lines = [user ? `<interface type='user'>` : `<interface type='network'>`];
      if (!user) lines.push(`  <source network='${esc(n.name)}'/>`);
      lines.push(`  <mac address='${esc(n.mac)}'/>`, `  <model type='${esc(n.model)}'/>`, `</interface>`);
      return lines.join('\n');
    })
    .join('\n');
}

/**
 * The qemu arguments of the user-mode "default" interface (none without one): a user netdev
 * (forwarding `forward.hostPort` on `forward.address` to the guest's `forward.guestPort`) and
 * its NIC with the VM's MAC at a fixed PCI slot.
 */
export function userNetArgs(nics: DomainNic[], forward?: DomainForward): string[] {
  const nic = nics.find(isUserNet);
  if (!nic) return [];
  const fwd = forward ? `,hostfwd=tcp:${forward.address}:${forward.hostPort}-:${forward.guestPort}` : '';
  return [
    '-netdev', `user,id=${USER_NETDEV}${fwd}`,
    '-device', `${QEMU_DEVICE[nic.model]},netdev=${USER_NETDEV},mac=${nic.mac},bus=pci.0,addr=${USER_NIC_SLOT}`,
  ];
}

/** A <qemu:commandline> element passing `args` to qemu (the root needs xmlns:qemu=QEMU_NS), or '' for none. */
export function buildQemuCommandline(args: string[]): string {
  if (args.length === 0) return '';
  return ['<qemu:commandline>', ...args.map((a) => `  <qemu:arg value='${esc(a)}'/>`), '</qemu:commandline>'].join('\n');
}
