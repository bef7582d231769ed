/**
 * Domain: one libvirt domain (a VM definition, running or not), through an owned virDomainPtr.
 * Owns: the domain-level calls (lifecycle, state, XML, metadata, statistics).
 */
import { libvirt } from './ffi';
import { check, type LibvirtExecutor } from './executor';
import { errorNumberOf } from './errors';
import { LibvirtHandle } from './handle';
import {
  AFFECT_FLAGS,
  DOMAIN_STATS_TYPES,
  INTERFACE_ADDRESS_SOURCES,
  METADATA_TYPES,
  VIR_DOMAIN_DESTROY_GRACEFUL,
  VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
  VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
  VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
  VIR_DOMAIN_UNDEFINE_KEEP_NVRAM,
  VIR_DOMAIN_UNDEFINE_KEEP_TPM,
  VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
  VIR_DOMAIN_UNDEFINE_NVRAM,
  VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
  VIR_DOMAIN_UNDEFINE_TPM,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_DOMAIN_XML_MIGRATABLE,
  VIR_DOMAIN_XML_SECURE,
  domainReasonName,
  domainStateName,
  type Affect,
  type DomainStateName,
  type DomainStatsType,
  type InterfaceAddressSource,
  type MetadataType,
} from './constants';
import { decodeStatsRecords, type DomainStatsRecord } from './stats';
import { decodeInterfaces, type DomainInterface } from './addresses';

export interface DomainState {
  state: DomainStateName;
  /** Why it is in that state, e.g. 'booted', 'destroyed' (virDomain*Reason). */
  reason: string;
  stateCode: number;
  reasonCode: number;
}

export interface DomainInfo {
  state: DomainStateName;
  /** Maximum memory, KiB. */
  maxMemKiB: number;
  /** Current memory, KiB. */
  memoryKiB: number;
  nrVirtCpu: number;
  /** CPU time used, nanoseconds. */
  cpuTimeNs: number;
}

export interface BlockStats {
  rdReq: number;
  rdBytes: number;
  wrReq: number;
  wrBytes: number;
  errs: number;
}

export interface InterfaceStats {
  rxBytes: number;
  rxPackets: number;
  rxErrs: number;
  rxDrop: number;
  txBytes: number;
  txPackets: number;
  txErrs: number;
  txDrop: number;
}

/** What undefine() removes with the definition. Unset: whatever libvirt's default is. */
export interface UndefineOptions {
  /** Remove a managed-save image (else undefining a domain that has one fails). Default true. */
  managedSave?: boolean;
  /** Remove snapshot metadata (else undefining a domain with snapshots fails). Default true. */
  snapshotsMetadata?: boolean;
  /** Remove checkpoint metadata. Default false: the test driver rejects this flag. */
  checkpointsMetadata?: boolean;
  /** UEFI NVRAM file: 'remove', 'keep', or leave libvirt's default (fail if one exists). */
  nvram?: 'remove' | 'keep';
  /** Persistent TPM state: 'remove' or 'keep'. */
  tpm?: 'remove' | 'keep';
}

export interface MetadataOptions {
  /** 'element' (default: a namespaced XML element), 'title' or 'description'. */
  type?: MetadataType;
  /** Which definition to change: default 'current' (live if running, else persistent). */
  affect?: Affect;
}

const VIR_ERR_NO_DOMAIN_METADATA = errorNumberOf('VIR_ERR_NO_DOMAIN_METADATA');

export class Domain extends LibvirtHandle {
  readonly name: string;
  readonly uuid: string;

  /**
   * Takes ownership of `ptr` (a reference the caller obtained from libvirt); `connection` is the
   * one it came from.
   */
  constructor(executor: LibvirtExecutor, ptr: bigint, connection?: LibvirtHandle) {
    super(executor, ptr, 'virDomainFree', connection);
    // Both read fields of the virDomain object itself: no lock, no I/O, safe on this thread.
    const { fn } = libvirt();
    this.name = fn.virDomainGetName(ptr) as string;
    const buf = Buffer.alloc(37);
    fn.virDomainGetUUIDString(ptr, buf);
    this.uuid = buf.toString('latin1', 0, 36);
  }

  /** Boots the domain (virDomainCreateWithFlags). */
  async start(flags = 0): Promise<void> {
    await this.invokeInt('virDomainCreateWithFlags', [flags]);
  }

  /** Asks the guest to shut down by one of `methods` (the agent before ACPI; none: the hypervisor's default, ACPI on qemu); returns before it has. */
  async shutdown(methods: ReadonlyArray<'acpi' | 'agent'> = []): Promise<void> {
    const flags = (methods.includes('acpi') ? VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN : 0) | (methods.includes('agent') ? VIR_DOMAIN_SHUTDOWN_GUEST_AGENT : 0);
    await this.invokeInt('virDomainShutdownFlags', [flags]);
  }

  /** Stops the domain at once, like pulling the plug; `graceful` only sends SIGTERM to QEMU. */
  async destroy(options: { graceful?: boolean } = {}): Promise<void> {
    await this.invokeInt('virDomainDestroyFlags', [options.graceful ? VIR_DOMAIN_DESTROY_GRACEFUL : 0]);
  }

  async reboot(flags = 0): Promise<void> {
    await this.invokeInt('virDomainReboot', [flags]);
  }

  async suspend(): Promise<void> {
    await this.invokeInt('virDomainSuspend', []);
  }

  async resume(): Promise<void> {
    await this.invokeInt('virDomainResume', []);
  }

  /**
   * Removes the persistent definition (a running domain keeps running, as a transient one).
   * By default also removes managed-save images and snapshot/checkpoint metadata, which would
   * otherwise make undefine fail.
   */
  async undefine(options: UndefineOptions = {}): Promise<void> {
    let flags = 0;
    if (options.managedSave ?? true) flags |= VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
    if (options.snapshotsMetadata ?? true) flags |= VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    if (options.checkpointsMetadata) flags |= VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
    if (options.nvram === 'remove') flags |= VIR_DOMAIN_UNDEFINE_NVRAM;
    if (options.nvram === 'keep') flags |= VIR_DOMAIN_UNDEFINE_KEEP_NVRAM;
    if (options.tpm === 'remove') flags |= VIR_DOMAIN_UNDEFINE_TPM;
    if (options.tpm === 'keep') flags |= VIR_DOMAIN_UNDEFINE_KEEP_TPM;
    await this.invokeInt('virDomainUndefineFlags', [flags]);
  }

  async getState(): Promise<DomainState> {
    const r = await this.invokeInt('virDomainGetState', [[0], [0], 0], { outs: [1, 2] });
    const stateCode = (r.outs[0] as number[])[0];
    const reasonCode = (r.outs[1] as number[])[0];
    const state = domainStateName(stateCode);
    return { state, reason: domainReasonName(state, reasonCode), stateCode, reasonCode };
  }

  async getInfo(): Promise<DomainInfo> {
    const r = await this.invokeInt('virDomainGetInfo', [{}], { outs: [1] });
    const info = r.outs[0] as { state: number; maxMem: number | bigint; memory: number | bigint; nrVirtCpu: number; cpuTime: number | bigint };
    return {
      state: domainStateName(info.state),
      maxMemKiB: Number(info.maxMem),
      memoryKiB: Number(info.memory),
      nrVirtCpu: info.nrVirtCpu,
      cpuTimeNs: Number(info.cpuTime),
    };
  }

  /** The domain XML; `inactive` gives the persistent definition rather than the live one. */
  async getXML(options: { inactive?: boolean; secure?: boolean; migratable?: boolean } = {}): Promise<string> {
    let flags = 0;
    if (options.inactive) flags |= VIR_DOMAIN_XML_INACTIVE;
    if (options.secure) flags |= VIR_DOMAIN_XML_SECURE;
    if (options.migratable) flags |= VIR_DOMAIN_XML_MIGRATABLE;
    return this.invokeValue<string>('virDomainGetXMLDesc', [flags]);
  }

  /**
   * Sets (or with xml=null removes) metadata. For type 'element', `xml` is one XML element that
   * libvirt stores under namespace `uri` with prefix `key`; for 'title'/'description' it is text.
   */
  async setMetadata(xml: string | null, key: string | null, uri: string | null, options: MetadataOptions = {}): Promise<void> {
    const type = options.type ?? 'element';
    const element = type === 'element';
    await this.invokeInt('virDomainSetMetadata', [
      METADATA_TYPES[type],
      xml,
      element ? key : null,
      element ? uri : null,
      AFFECT_FLAGS[options.affect ?? 'current'],
    ]);
  }

  /** The metadata element in namespace `uri` (or title/description); undefined if absent. */
  async getMetadata(uri: string | null, options: MetadataOptions = {}): Promise<string | undefined> {
    const type = options.type ?? 'element';
    return this.invokeLookup<string>(
      'virDomainGetMetadata',
      [METADATA_TYPES[type], type === 'element' ? uri : null, AFFECT_FLAGS[options.affect ?? 'current']],
      VIR_ERR_NO_DOMAIN_METADATA,
    );
  }

  async isActive(): Promise<boolean> {
    return (await this.invokeInt('virDomainIsActive', [])).result === 1;
  }

  async isPersistent(): Promise<boolean> {
    return (await this.invokeInt('virDomainIsPersistent', [])).result === 1;
  }

  /** Block device counters; `disk` is the target name ('vda') or source path. */
  async getBlockStats(disk: string): Promise<BlockStats> {
    const { koffi } = libvirt();
    const r = await this.invokeInt('virDomainBlockStats', [disk, {}, koffi.sizeof('virDomainBlockStatsStruct')], { outs: [2] });
    const s = r.outs[0] as Record<string, number | bigint>;
    return {
      rdReq: Number(s.rd_req),
      rdBytes: Number(s.rd_bytes),
      wrReq: Number(s.wr_req),
      wrBytes: Number(s.wr_bytes),
      errs: Number(s.errs),
    };
  }

  /** Network interface counters; `device` is the host-side name ('vnet0') or the MAC address. */
  async getInterfaceStats(device: string): Promise<InterfaceStats> {
    const { koffi } = libvirt();
    const r = await this.invokeInt('virDomainInterfaceStats', [device, {}, koffi.sizeof('virDomainInterfaceStatsStruct')], {
      outs: [2],
    });
    const s = r.outs[0] as Record<string, number | bigint>;
    return {
      rxBytes: Number(s.rx_bytes),
      rxPackets: Number(s.rx_packets),
      rxErrs: Number(s.rx_errs),
      rxDrop: Number(s.rx_drop),
      txBytes: Number(s.tx_bytes),
      txPackets: Number(s.tx_packets),
      txErrs: Number(s.tx_errs),
      txDrop: Number(s.tx_drop),
    };
  }

  /**
   * The guest's interfaces and IP addresses (virDomainInterfaceAddresses), read from `source`:
   * 'lease' (DHCP leases of libvirt networks; the default), 'agent' (the qemu guest agent: fails
   * while it does not answer) or 'arp' (the host's ARP table). Only a running domain answers.
   */
  async interfaceAddresses(source: InterfaceAddressSource = 'lease'): Promise<DomainInterface[]> {
    const r = await this.invokeInt('virDomainInterfaceAddresses', [[null], INTERFACE_ADDRESS_SOURCES[source], 0], { outs: [1] });
    return decodeInterfaces((r.outs[0] as Array<bigint | null>)[0], r.result);
  }

  /** Bulk statistics for this domain (virDomainListGetStats); all groups when `types` is empty. */
  async getStats(types: DomainStatsType[] = []): Promise<DomainStatsRecord> {
    const mask = types.reduce((m, t) => m | DOMAIN_STATS_TYPES[t], 0);
    // The first argument is a NULL-terminated array of domains: [this, NULL].
    const r = await this.invokeWith('virDomainListGetStats', (ptr) => [[ptr, null], mask, [null], 0], { outs: [2] });
    check('virDomainListGetStats', r, (r.result as number) >= 0);
    const list = (r.outs[0] as Array<bigint | null>)[0];
    if (list === null) return { name: this.name, uuid: this.uuid, stats: {} };
    try {
      const [record] = decodeStatsRecords(list, r.result as number);
      return record ?? { name: this.name, uuid: this.uuid, stats: {} };
    } finally {
      await this.executor.call('virDomainStatsRecordListFree', [list]);
    }
  }
}
