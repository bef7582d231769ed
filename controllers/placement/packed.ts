// The numbers placement reads for every host it looks at, packed into one Float64Array in host
// order (data-oriented layout): readiness flags, allocatable, allocated, load. A decision scans a
// window of about a hundred hosts; in a cluster of 10,000 hosts those are cold in the CPU cache,
// and reading them from the host objects (a view, its allocatable, its taints, a map entry for
// its allocation) costs several cache misses per host. Here a host is one cache line, and the
// scan walks consecutive lines. Hosts whose decision needs more (labels, taints, affinity) are
// still read from their HostView.

import type { HostView } from './filters';
import { EPS, type ResourceName, type Resources } from './resources';

/** Doubles per host: flags, allocatable cpu/memory/storage, allocated cpu/memory/storage, load. */
export const STRIDE = 8;

export const F_READY = 1;
export const F_CORDONED = 2;
/** the agent reported capacity (allocatable is known) */
export const F_CAPACITY = 4;
/** the host has taints: the decision must read its view */
export const F_TAINTED = 8;
/** a measured load is known */
export const F_LOAD = 16;
/** the agent lost its libvirt connection */
export const F_LIBVIRT_DOWN = 32;

export const AT = { flags: 0, acpu: 1, amem: 2, asto: 3, ucpu: 4, umem: 5, usto: 6, load: 7 } as const;

/** Packed numbers of a host list; slot i is hosts[i]. */
export class PackedHosts {
  data = new Float64Array(0);
  private readonly slots = new Map<string, number>();
  /** "key=value" → slots of the hosts with that label, ascending (labels change → rebuild) */
  private byLabel = new Map<string, Int32Array>();

  /** Refills everything for a new host list (membership or order changed). */
  rebuild(hosts: readonly HostView[], allocated: (host: string) => Resources): void {
    this.data = new Float64Array(hosts.length * STRIDE);
    this.slots.clear();
    const labelled = new Map<string, number[]>();
    hosts.forEach((h, i) => {
      this.slots.set(h.name, i);
      this.writeHost(i, h);
      this.writeAllocated(i, allocated(h.name));
      for (const [k, v] of Object.entries(h.labels)) {
        const id = `${k}=${v}`;
        const l = labelled.get(id);
        if (l) l.push(i);
        else labelled.set(id, [i]);
      }
    });
    this.byLabel = new Map([...labelled].map(([id, l]) => [id, Int32Array.from(l)]));
  }

  /** Slots of the hosts labelled key=value (a label index: a host selector scans only these). */
  labelled(key: string, value: string): Int32Array {
    return this.byLabel.get(`${key}=${value}`) ?? NONE;
  }

  slotOf(host: string): number | undefined {
    return this.slots.get(host);
  }

  /** A host's view changed in place (heartbeat, capacity, taints, cordon, load). */
  setHost(h: HostView): void {
    const i = this.slots.get(h.name);
    if (i !== undefined) this.writeHost(i, h);
  }

  /** What is claimed on a host changed. */
  setAllocated(host: string, r: Resources): void {
    const i = this.slots.get(host);
    if (i !== undefined) this.writeAllocated(i, r);
  }

  private writeHost(i: number, h: HostView): void {
    const b = i * STRIDE;
    const d = this.data;
    d[b + AT.flags] = (h.ready ? F_READY : 0) | (h.unschedulable ? F_CORDONED : 0) | (h.allocatable ? F_CAPACITY : 0)
      | (h.taints.length > 0 ? F_TAINTED : 0) | (h.load !== undefined ? F_LOAD : 0) | (h.libvirtDown ? F_LIBVIRT_DOWN : 0);
    d[b + AT.acpu] = h.allocatable?.cpu ?? 0;
    d[b + AT.amem] = h.allocatable?.memory ?? 0;
    d[b + AT.asto] = h.allocatable?.storage ?? 0;
    d[b + AT.load] = h.load ?? 0;
  }

  private writeAllocated(i: number, r: Resources): void {
    const b = i * STRIDE;
    this.data[b + AT.ucpu] = r.cpu;
    this.data[b + AT.umem] = r.memory;
    this.data[b + AT.usto] = r.storage;
  }
}

const NONE = new Int32Array(0);

/** firstShortage() for the host in slot `i`. */
export function shortageAt(d: Float64Array, i: number, req: Resources): ResourceName | undefined {
  const b = i * STRIDE;
  if (req.cpu > 0 && d[b + AT.ucpu] + req.cpu > d[b + AT.acpu] + EPS) return 'cpu';
  if (req.memory > 0 && d[b + AT.umem] + req.memory > d[b + AT.amem] + EPS) return 'memory';
  if (req.storage > 0 && d[b + AT.usto] + req.storage > d[b + AT.asto] + EPS) return 'storage';
  return undefined;
}

/** The allocated resources of slot `i`, as an object (for the filters that need one). */
export function allocatedAt(d: Float64Array, i: number): Resources {
  const b = i * STRIDE;
  return { cpu: d[b + AT.ucpu], memory: d[b + AT.umem], storage: d[b + AT.usto] };
}
