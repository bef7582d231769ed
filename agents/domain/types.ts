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
  /** also a VNC display */
  vnc?: boolean;
}
