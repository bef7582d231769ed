/**
 * The address poller of one host: asks libvirt for the interfaces of the running domains of the
 * VMs bound here (the qemu guest agent first, then DHCP leases), and writes status.interfaces and
 * status.ip when they changed, by compare-and-set and only while the VM is Running here (the
 * reconciler clears both when the domain stops). A VM is asked again every `fastMs` while it
 * boots (until every interface has an address, for at most `bootWindowMs` after its start), then
 * every `steadyMs` (a guest without an agent, or on a network without leases, costs little).
 */
import type { Logger } from 'pino';
import type { ObjectStore, VirtualMachineObject } from '../../store';
import { splitKey, systemClock, type Clock } from '../../runtime';
import type { InterfaceAddressSource, LibvirtConnection } from '../../libvirt';
import { objectKey } from '../../kube/keys';
import { GUEST_SSH_PORT, macFor } from '../domain';
import { domainName } from '../names';
import { writeStatus } from '../status-writer';
import type { ForwardPorts } from '../host/forwards';
import { allAddressed, interfacesStatus, type AddressAnswer, type InfoSource, type SpecNic } from './addresses';
import type { VmSource } from './source';

const SOURCE_NAMES: Record<InterfaceAddressSource, InfoSource> = { agent: 'guest-agent', lease: 'lease', arp: 'arp' };

export interface AddressPollerOptions {
  host: string;
  store: ObjectStore;
  source: VmSource;
  /** the host's libvirt connection, undefined while there is none */
  conn: () => LibvirtConnection | undefined;
  /** the SSH forwards of the VMs (real hosts) */
  forwards?: Pick<ForwardPorts, 'get' | 'address'>;
  /** where addresses are read, in order of preference; default agent, then lease */
  sources?: InterfaceAddressSource[];
  /** period while a VM lacks an address; default 2000 ms */
  fastMs?: number;
  /** period once every interface has one, or once the boot window is over; default 30 000 ms */
  steadyMs?: number;
  /** how long after status.startTime a VM without addresses is asked every fastMs; default 180 000 ms */
  bootWindowMs?: number;
  /** VMs asked at once (a guest agent that hangs holds a libvirt thread for seconds); default 2 */
  concurrency?: number;
  clock?: Clock;
  logger?: Logger;
}

export class AddressPoller {
  private readonly clock: Clock;
  /** per VM key: the incarnation and when to ask next */
  private readonly due = new Map<string, { uid: string; at: number }>();

  constructor(private readonly o: AddressPollerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** How often the poller should run: its fast period. */
  get periodMs(): number {
    return this.o.fastMs ?? 2000;
  }

  /** The interfaces of VM `vm` as the spec has them (MACs as the domain builder makes them), with their forwards. */
  specNics(vm: Pick<VirtualMachineObject, 'metadata' | 'spec'>): SpecNic[] {
    const key = objectKey(vm);
    const port = this.o.forwards?.get(key);
    return (vm.spec.networks ?? [{ name: 'default' }]).map((n, i) => ({
      name: n.name,
      mac: macFor(vm.metadata.uid ?? '', i),
      ...(n.name === 'default' && !n.network && port !== undefined && this.o.forwards
        ? { forwards: [{ protocol: 'TCP' as const, port: GUEST_SSH_PORT, hostIP: this.o.forwards.address, hostPort: port }] }
        : {}),
    }));
  }

  /** One pass: every Running VM of this host that is due. */
  async poll(): Promise<void> {
    const { host } = this.o;
    const now = this.clock.now();
    const work: VirtualMachineObject[] = [];
    const present = new Set<string>();
    for (const vm of this.o.source.objectsOf(host)) {
      const key = objectKey(vm);
      if (vm.status?.phase !== 'Running' || vm.status.host !== host || vm.metadata.deletionTimestamp) continue;
      present.add(key);
      const d = this.due.get(key);
      if (d && d.uid === vm.metadata.uid && d.at > now) continue;
      work.push(vm);
    }
    for (const k of this.due.keys()) if (!present.has(k)) this.due.delete(k);
    const limit = Math.max(1, this.o.concurrency ?? 2);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const vm = work[next++];
        const key = objectKey(vm);
        let addressed = false;
        try {
          addressed = await this.pollVm(vm);
        } catch (err) {
          this.o.logger?.debug({ vm: key, err: String(err) }, 'reading or writing the addresses of a VM failed');
        }
        const at = this.clock.now();
        const started = Date.parse(vm.status?.startTime ?? '');
        const booting = !Number.isFinite(started) || at - started < (this.o.bootWindowMs ?? 180_000);
        this.due.set(key, { uid: vm.metadata.uid ?? '', at: at + (!addressed && booting ? this.periodMs : this.o.steadyMs ?? 30_000) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, work.length) }, worker));
  }

  /** What libvirt says of the VM's domain, source by source, until every interface is known. */
  private async ask(vm: VirtualMachineObject, nics: SpecNic[]): Promise<AddressAnswer[]> {
    const conn = this.o.conn();
    if (!conn) return [];
    const dom = await conn.lookupDomainByName(domainName(vm.metadata.namespace ?? '', vm.metadata.name));
    if (!dom) return [];
    const answers: AddressAnswer[] = [];
    try {
      for (const src of this.o.sources ?? ['agent', 'lease']) {
        try {
          answers.push({ source: SOURCE_NAMES[src], interfaces: await dom.interfaceAddresses(src) });
        } catch (err) {
          // The guest agent is not up yet, or the domain just stopped: the last addresses are kept.
          this.o.logger?.debug({ vm: objectKey(vm), source: src, err: String(err) }, 'no interface addresses from this source');
          continue;
        }
        if (allAddressed(interfacesStatus(nics, answers, undefined))) break;
      }
    } finally {
      dom.free();
    }
    return answers;
  }

  /** Polls one VM and writes its addresses if they changed; true when every interface has one. */
  async pollVm(vm: VirtualMachineObject): Promise<boolean> {
    const { host } = this.o;
    const nics = this.specNics(vm);
    const answers = await this.ask(vm, nics);
    const uid = vm.metadata.uid;
    let addressed = allAddressed(interfacesStatus(nics, answers, vm.status?.interfaces));
    await writeStatus<VirtualMachineObject>(this.o.store, { kind: 'VirtualMachine', ...splitKey(objectKey(vm)) }, vm, (cur) => {
      // Only while the domain runs here: the reconciler clears the addresses when it stops.
      if (cur.metadata.uid !== uid || cur.status?.host !== host || cur.status.phase !== 'Running') return undefined;
      const s = interfacesStatus(nics, answers, cur.status.interfaces);
      addressed = allAddressed(s);
      const next = { ...structuredClone(cur.status), interfaces: s.interfaces };
      if (s.ip) next.ip = s.ip;
      else delete next.ip;
      return next;
    });
    return addressed;
  }
}
