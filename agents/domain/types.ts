/**
 * The input of the domain XML builders: a flat, already-resolved description of one domain.
 * Owns: the shapes only. Produced from a VirtualMachine by agents/vm/desired.ts.
 */

/** Who a domain belongs to, stored in the domain's libvirt metadata. */
export interface DomainOwner {
  /** metadata.uid of the VirtualMachine */
  uid: string;
  namespace: string;
  name: string;
  /** the Host (agent) that defined it */
  host: string;
  /** metadata.generation the definition was built from */
  generation: number;
  /** content hash of the cloud-init seed the definition attaches (seed.ts), if any */
  seed?: string;
  /** the hypervisor port forwarded to the guest's SSH port (user-mode networking), if any */
  sshPort?: number;
}

export type VirtType = 'test' | 'qemu' | 'kvm';

export interface DomainBoot {
  kernel: string;
  initrd?: string;
  cmdline?: string;
}

export interface DomainDisk {
  /** the disk's name in spec.disks */
  name: string;
  /** file path of the volume on the host */
  path: string;
  format: 'qcow2' | 'raw';
  bus: 'virtio' | 'sata' | 'scsi';
}

export interface DomainNic {
  name: string;
  model: 'virtio' | 'e1000' | 'rtl8139';
  mac: string;
  /**
   * An interface on a Network: its tap (stt-…), which the agent creates on the network's bridge
   * before the domain starts (libvirt only opens it), and the network's MTU. Absent: "default" is
   * user-mode networking, any other name a libvirt network of that name (legacy).
   */
  tap?: { name: string; mtu?: number };
}

/** A guest port reachable through a host port (qemu user-mode networking's hostfwd). */
export interface DomainForward {
  /** the hypervisor address it listens on */
  address: string;
  hostPort: number;
  guestPort: number;
}

export interface DomainSpec {
  /** libvirt domain name */
  name: string;
  /** libvirt domain UUID (the VM's uid) */
  uuid: string;
  virtType: VirtType;
  vcpus: number;
  memoryKiB: number;
  owner: DomainOwner;
  boot?: DomainBoot;
  disks: DomainDisk[];
  nics: DomainNic[];
  /** serial console log file */
  consoleLog: string;
  /**
   * Real hosts: the serial console's unix socket (qemu listens; the agent's console server
   * connects), still logged to consoleLog. Absent (the test driver): the console is the log file.
   */
  consoleSocket?: string;
  /** Real hosts: the VNC display's unix socket, when `vnc` (absent: a VNC port on 127.0.0.1) */
  vncSocket?: string;
  /** the cloud-init NoCloud seed ISO, attached read-only as the last virtio disk */
  seed?: string;
  /**
   * Real hosts: the "default" network as qemu user-mode networking given on qemu's command line
   * (so that it can forward a host port to the guest), and the qemu guest agent's channel.
   * Absent (the test driver): <interface type='user'> and no channel.
   */
  userNet?: { forward?: DomainForward };
  guestAgent?: boolean;
  /** the guest agent channel's unix socket (absent: libvirt picks one) */
  guestAgentSocket?: string;
  /** also a VNC display */
  vnc?: boolean;
}
