/**
 * What a VirtualMachine asks of this host, fully resolved: the domain to define (built by the
 * pure builders) and the volumes to create. Pure: Images and Volumes are looked up beforehand
 * (refs.ts) and passed in.
 */
import type { ImageObject, NetworkObject, VirtualMachineObject, VolumeObject } from '../../store';
import type { VirtualMachineSpec, VirtualMachineStatus } from '../../schemas/types.gen';
import { quantityBytes } from '../../kube/resources';
import { GUEST_SSH_PORT, buildDomainXml, buildSeedFiles, buildVolumeXml, isUserNet, macFor, seedHash, type DomainBoot, type DomainDisk, type DomainNic, type DomainSpec, type SeedFiles, type SeedNic, type VirtType } from '../domain';
import { effectiveMtu, networkRefOf, tapName } from '../../kube/networks';
import { domainName, seedFileName, vmVolumeName, volumeObjectVolumeName } from '../names';
import { EVICTING_CONDITION } from '../../kube/names';
import { pendingRequests, type StateChangeRequest } from '../../kube/state-change';
import type { ImageState } from '../images/image-cache';
import { consoleFilesOf } from '../console/files';

export type RunStrategy = 'Always' | 'RerunOnFailure' | 'Halted' | 'Manual';

/** Facts about this host that shape every domain it defines. */
export interface HostContext {
  host: string;
  virtType: VirtType;
  /** folder of the serial consoles: logs, and per-VM folders of sockets on real hosts (console/files.ts) */
  consoleDir: string;
  /** the pool of VM disks (and of Volumes that name none) */
  pool: string;
  /** target path of each known pool */
  poolPaths: Readonly<Record<string, string>>;
  /**
   * The pools shared with other hosts (name → identity, PoolCache.shared()): VM disks created in
   * one follow the VM to any host that has it. Absent: none.
   */
  sharedPools?: Readonly<Record<string, string>>;
  /** size of a disk cloned from an Image when neither the disk nor the Image gives one */
  defaultDiskBytes: number;
  /**
   * The verified local copy of an Image with a `source.url` or `source.path` (ImageCache.state:
   * asking starts the download or verification when there is none; undefined for other sources).
   * Without it, `source.url` Images are not available and `source.path` ones are used unverified.
   */
  images?: (img: ImageObject) => ImageState | undefined;
  /** the folder of the cloud-init seed ISOs; undefined: VMs get no seed (hollow hosts, by default) */
  seedDir?: string;
  /**
   * Real hosts: the guest's SSH port forwarded from `address` and the VM's port there (assigned
   * before the reconcile: ForwardPorts.ensure); undefined on the test driver.
   */
  forward?: { address: string; portOf(key: string): number | undefined };
  /** the Network `namespace/name` (the agent's Network cache); undefined: not found */
  network?: (namespace: string, name: string) => NetworkObject | undefined;
}

/** Images and Volumes of the VM's project that its disks name (undefined: not found). */
export interface ResolvedRefs {
  images: Readonly<Record<string, ImageObject | undefined>>;
  volumes: Readonly<Record<string, VolumeObject | undefined>>;
}

export interface DesiredVolume {
  /** the disk's name in spec.disks */
  disk: string;
  pool: string;
  /** libvirt volume name */
  name: string;
  path: string;
  xml: string;
  capacityBytes: number;
  /** true: created for this VM and deleted with it; false: a Volume object's */
  owned: boolean;
  /** the identity of the shared pool holding it, when its pool is shared by several hosts */
  sharedPool?: string;
  /** the Volume object backing the disk, if any */
  volumeObject?: string;
}

export interface DesiredVm {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  runStrategy: RunStrategy;
  /** status says this host already started this incarnation once */
  everStarted: boolean;
  /** the drain controller asks this host to stop it (condition Evicting=True) so that it can move */
  evicting: boolean;
  /** start, stop and restart requests waiting for this incarnation, oldest first (status.stateChangeRequests) */
  requests: StateChangeRequest[];
  domain: DomainSpec;
  xml: string;
  volumes: DesiredVolume[];
  /** the cloud-init seed to write at `path` (its content can hold secrets: never log it) */
  seed?: { path: string; hash: string; files: SeedFiles };
}

/** Why a VM cannot be built here; `terminal`: retrying will not help until the spec or refs change. */
export interface Problem {
  reason: string;
  message: string;
  terminal: boolean;
}

export type DesiredResult = { desired: DesiredVm; problem?: undefined } | { desired?: undefined; problem: Problem };

const KiB = 1024;

/** Names of the Images and Volumes a VM spec refers to (what refs.ts must look up). */
export function referencedNames(spec: VirtualMachineSpec): { images: string[]; volumes: string[] } {
  const images = new Set<string>();
  const volumes = new Set<string>();
  for (const d of spec.disks ?? []) {
    if (d.image) images.add(d.image);
    if (d.volume) volumes.add(d.volume);
  }
  return { images: [...images], volumes: [...volumes] };
}

/** The Images a set of Volume objects are cloned from (a second round of look-ups). */
export function volumeImageNames(volumes: ResolvedRefs['volumes']): string[] {
  return [...new Set(Object.values(volumes).flatMap((v) => (v?.spec.image ? [v.spec.image] : [])))];
}

function problem(reason: string, message: string, terminal = false): DesiredResult {
  return { problem: { reason, message, terminal } };
}

/** A size in bytes, rounded up as every request is (kube/resources.ts). */
function bytes(q: string | number | undefined): number | undefined {
  return q === undefined ? undefined : quantityBytes(q);
}

/** The backing file of a clone of `img`, or a Problem when the agent cannot use the image. */
function imageBacking(name: string, img: ImageObject, ctx: HostContext): { path: string; format: 'qcow2' | 'raw' } | Problem {
  const src = img.spec.source;
  const format = img.spec.format ?? 'qcow2';
  if (src?.path && !ctx.images) return { path: src.path, format };
  if (src?.url || src?.path) {
    if (!ctx.images) return { reason: 'ImageNotAvailable', message: `Image ${name}: this agent does not download images (source.url)`, terminal: true };
    const st = ctx.images(img);
    if (!st || st.state === 'ready') return { path: st?.path ?? src.path ?? '', format };
    // A copy that failed verification is not used: the VM says why (reasons ImageChecksumMismatch, ...).
    if (st.state === 'failed') return { reason: `Image${st.reason}`, message: `Image ${name}: ${st.message}${st.reason === 'DownloadFailed' ? '; retrying' : ''}`, terminal: false };
    if (st.state === 'verifying') return { reason: 'ImageVerifying', message: `Image ${name}: verifying ${st.path} on host ${ctx.host}`, terminal: false };
    const of = st.totalBytes ? ` (${Math.floor((100 * st.receivedBytes) / st.totalBytes)}% of ${st.totalBytes} bytes)` : '';
    return { reason: 'ImageDownloading', message: `Image ${name}: downloading ${src.url} to host ${ctx.host}${of}`, terminal: false };
  }
  if (src?.volume) return { reason: 'ImageNotAvailable', message: `Image ${name}: images made from a Volume are not supported by this agent yet`, terminal: true };
  return { reason: 'ImageNotAvailable', message: `Image ${name} has no disk content (source) to clone`, terminal: true };
}

export function isProblem(x: unknown): x is Problem {
  return typeof x === 'object' && x !== null && 'reason' in x;
}

/** The storage of a volume on this host: pool, libvirt name, path, size and XML. */
export interface VolumeStorage {
  pool: string;
  name: string;
  path: string;
  capacityBytes: number;
  xml: string;
}

/** The host that holds (status.host) or is to hold (spec.host) a Volume's storage, if decided. */
export function volumeHost(v: Readonly<Pick<VolumeObject, 'spec' | 'status'>>): string | undefined {
  return v.status?.host || v.spec.host || undefined;
}

/** Where a volume goes in its pool on this host, with its XML; PoolNotFound when the host lacks the pool. */
function placeVolume<X extends object>(
  v: { pool: string; name: string; capacityBytes: number; backing?: { path: string; format: 'qcow2' | 'raw' } },
  ctx: HostContext,
  what: string,
  extra: X,
): (VolumeStorage & X) | Problem {
  const dir = ctx.poolPaths[v.pool];
  if (dir === undefined) return { reason: 'PoolNotFound', message: `${what}: storage pool ${v.pool} does not exist on host ${ctx.host}`, terminal: false };
  const path = `${dir.replace(/\/+$/, '')}/${v.name}`;
  const sharedPool = ctx.sharedPools?.[v.pool];
  return {
    pool: v.pool, name: v.name, path, capacityBytes: v.capacityBytes, xml: buildVolumeXml({ name: v.name, capacityBytes: v.capacityBytes, backing: v.backing }),
    ...(sharedPool !== undefined ? { sharedPool } : {}), ...extra,
  };
}

/**
 * The storage of Volume object `namespace/name` on this host (blank, or a copy-on-write clone of
 * its Image), or why it cannot be made here. Shared by the VMs that attach the Volume and by the
 * Volume's own reconciler, so both create the same thing. Pure.
 */
export function resolveVolumeStorage(namespace: string, name: string, v: VolumeObject, images: ResolvedRefs['images'], ctx: HostContext): VolumeStorage | Problem {
  let backing: { path: string; format: 'qcow2' | 'raw' } | undefined;
  let capacityBytes: number | undefined;
  try {
    capacityBytes = bytes(v.spec.size);
    if (v.spec.image) {
      const img = images[v.spec.image];
      if (!img) return { reason: 'ImageNotFound', message: `Volume ${name}: Image ${namespace}/${v.spec.image} not found`, terminal: false };
      const b = imageBacking(v.spec.image, img, ctx);
      if (isProblem(b)) return b;
      backing = b;
      capacityBytes ??= bytes(img.spec.size) ?? ctx.defaultDiskBytes;
    }
  } catch (err) {
    return { reason: 'InvalidSpec', message: `Volume ${name}: ${(err as Error).message}`, terminal: true };
  }
  if (capacityBytes === undefined) return { reason: 'InvalidSpec', message: `Volume ${name} has neither size nor image`, terminal: true };
  // Once created, the storage stays in the pool it was created in (status.pool), whatever spec.pool says later.
  const pool = (v.status?.host === ctx.host && v.status.pool) || v.spec.pool || ctx.pool;
  return placeVolume({ pool, name: volumeObjectVolumeName(namespace, name), capacityBytes, backing }, ctx, `Volume ${name}`, {});
}

/**
 * The VM's interfaces for the domain and for the seed's network-config: an interface on a Network
 * is its tap (made by the host-network controller on the network's bridge), with the address the scheduler handed out (status.addresses,
 * written at bind). Without that address the VM waits (AddressPending): a guest started without
 * it would come up unconfigured.
 */
function resolveNics(vm: VirtualMachineObject, ctx: HostContext): { nics: DomainNic[]; seedNics: SeedNic[] } | Problem {
  const namespace = vm.metadata.namespace ?? '';
  const uid = vm.metadata.uid ?? '';
  const addresses = vm.status?.addresses ?? [];
  const nics: DomainNic[] = [];
  const seedNics: SeedNic[] = [];
  for (const [i, n] of (vm.spec.networks ?? [{ name: 'default' }]).entries()) {
    const nic: DomainNic = { name: n.name, model: n.model ?? 'virtio', mac: macFor(uid, i) };
    const ref = networkRefOf(namespace, n);
    if (!ref) {
      nics.push(nic);
      seedNics.push({ name: nic.name, mac: nic.mac });
      continue;
    }
    const key = `${ref.namespace}/${ref.name}`;
    const net = ctx.network?.(ref.namespace, ref.name);
    if (!net?.metadata.uid) return { reason: 'NetworkNotFound', message: `interface ${n.name}: Network ${key} not found`, terminal: false };
    const a = addresses.find((x) => x.name === n.name && x.network === key);
    if (!a) return { reason: 'AddressPending', message: `interface ${n.name}: no address on Network ${key} yet (handed out when the VM is bound)`, terminal: false };
    const mtu = effectiveMtu(net.spec);
    nics.push({ ...nic, tap: { name: tapName(uid, i), mtu } });
    seedNics.push({
      name: nic.name, mac: nic.mac, mtu,
      address: { ipAddress: a.ipAddress, prefixLength: a.prefixLength, ...(a.gateway ? { gateway: a.gateway } : {}), ...(a.dns?.length ? { dns: a.dns } : {}) },
    });
  }
  return { nics, seedNics };
}

/**
 * A disk of the VM that already lives on a shared pool this host does not have (it moved here
 * from a host that has it): never create a fresh one in its place. Undefined when it can be used here.
 */
function ownDiskElsewhere(disk: string, status: VirtualMachineStatus, ctx: HostContext): Problem | undefined {
  const at = (status.volumes ?? []).find((v) => v.name === disk && !v.volume);
  if (!at?.sharedPool || ctx.sharedPools?.[ctx.pool] === at.sharedPool) return undefined;
  return {
    reason: 'DiskOnOtherStorage',
    message: `disk ${disk} lives on shared storage pool ${at.sharedPool}${at.path ? ` (${at.path})` : ''}, which host ${ctx.host} does not have: the VM must run on a host with that pool`,
    terminal: false,
  };
}

export function resolveDesired(vm: VirtualMachineObject, refs: ResolvedRefs, ctx: HostContext): DesiredResult {
  const meta = vm.metadata;
  const namespace = meta.namespace ?? '';
  const spec: VirtualMachineSpec = vm.spec;
  const status: VirtualMachineStatus = vm.status ?? {};
  const uid = meta.uid ?? '';
  let memoryBytes: number;
  try {
    memoryBytes = quantityBytes(spec.memory);
  } catch (err) {
    return problem('InvalidSpec', `spec.memory: ${(err as Error).message}`, true);
  }
  const memoryKiB = Math.ceil(memoryBytes / KiB);
  if (memoryKiB < 1) return problem('InvalidSpec', 'spec.memory must be positive', true);

  let boot: DomainBoot | undefined;
  const disks: DomainDisk[] = [];
  const volumes: DesiredVolume[] = [];
  for (const d of spec.disks ?? []) {
    const bus = d.bus ?? 'virtio';
    let vol: DesiredVolume | Problem;
    if (d.image) {
      const img = refs.images[d.image];
      if (!img) return problem('ImageNotFound', `disk ${d.name}: Image ${namespace}/${d.image} not found`);
      if (img.spec.kernel && !boot) boot = { kernel: img.spec.kernel, initrd: img.spec.initrd, cmdline: img.spec.cmdline };
      // A kernel-only image boots the VM and needs no block device.
      if (img.spec.kernel && !img.spec.source) continue;
      const backing = imageBacking(d.image, img, ctx);
      if (isProblem(backing)) return { problem: backing };
      let capacityBytes: number;
      try {
        capacityBytes = bytes(d.size) ?? bytes(img.spec.size) ?? ctx.defaultDiskBytes;
      } catch (err) {
        return problem('InvalidSpec', `disk ${d.name}: ${(err as Error).message}`, true);
      }
      vol = ownDiskElsewhere(d.name, status, ctx) ?? placeVolume({ pool: ctx.pool, name: vmVolumeName(namespace, meta.name, d.name, uid), capacityBytes, backing }, ctx, `disk ${d.name}`, { disk: d.name, owned: true });
    } else if (d.volume) {
      const v = refs.volumes[d.volume];
      if (!v) return problem('VolumeNotFound', `disk ${d.name}: Volume ${namespace}/${d.volume} not found`);
      const elsewhere = volumeHost(v);
      if (elsewhere && elsewhere !== ctx.host) {
        return problem('VolumeOnOtherHost', `disk ${d.name}: Volume ${namespace}/${d.volume} is on host ${elsewhere}, not ${ctx.host}`, true);
      }
      // A Volume being deleted is not given to a VM that does not use it yet (the deletion
      // waits for the VMs that do, and must not wait for ever).
      const attached = status.host === ctx.host && (status.volumes ?? []).some((x) => x.volume === d.volume);
      if (v.metadata.deletionTimestamp && !attached) {
        return problem('VolumeTerminating', `disk ${d.name}: Volume ${namespace}/${d.volume} is being deleted`);
      }
      const storage = resolveVolumeStorage(namespace, d.volume, v, refs.images, ctx);
      vol = isProblem(storage) ? storage : { ...storage, disk: d.name, owned: false, volumeObject: d.volume };
    } else {
      let capacityBytes: number | undefined;
      try {
        capacityBytes = bytes(d.size);
      } catch (err) {
        return problem('InvalidSpec', `disk ${d.name}: ${(err as Error).message}`, true);
      }
      if (!capacityBytes) return problem('InvalidSpec', `disk ${d.name}: a blank disk needs a size`, true);
      vol = ownDiskElsewhere(d.name, status, ctx) ?? placeVolume({ pool: ctx.pool, name: vmVolumeName(namespace, meta.name, d.name, uid), capacityBytes }, ctx, `disk ${d.name}`, { disk: d.name, owned: true });
    }
    if (isProblem(vol)) return { problem: vol };
    volumes.push(vol);
    disks.push({ name: d.name, path: vol.path, format: 'qcow2', bus });
  }

  const nets = resolveNics(vm, ctx);
  if (isProblem(nets)) return { problem: nets };
  const { nics, seedNics } = nets;
  let seed: DesiredVm['seed'];
  if (ctx.seedDir !== undefined) {
    const ci = spec.cloudInit ?? {};
    const files = buildSeedFiles({ uid, hostname: meta.name, sshAuthorizedKeys: ci.sshAuthorizedKeys, userData: ci.userData, networkData: ci.networkData, nics: seedNics });
    seed = { path: `${ctx.seedDir.replace(/\/+$/, '')}/${seedFileName(namespace, meta.name)}`, hash: seedHash(files), files };
  }
  let sshPort: number | undefined;
  if (ctx.virtType !== 'test' && ctx.forward && nics.some(isUserNet)) {
    sshPort = ctx.forward.portOf(`${namespace}/${meta.name}`);
    if (sshPort === undefined) return problem('NoForwardPort', `no free port left on host ${ctx.host} to forward to the guest's SSH port (STRATUS_AGENT_FORWARD_PORTS)`);
  }
  const consoleFiles = consoleFilesOf(ctx.consoleDir, ctx.virtType, namespace, meta.name);
  const domain: DomainSpec = {
    name: domainName(namespace, meta.name),
    uuid: uid,
    virtType: ctx.virtType,
    vcpus: spec.cpu,
    memoryKiB,
    owner: {
      uid, namespace, name: meta.name, host: ctx.host, generation: meta.generation ?? 0,
      ...(seed ? { seed: seed.hash } : {}),
      ...(sshPort !== undefined ? { sshPort } : {}),
    },
    boot,
    disks,
    nics,
    consoleLog: consoleFiles.log,
    vnc: spec.console?.type === 'vnc',
    ...(consoleFiles.serial ? { consoleSocket: consoleFiles.serial } : {}),
    ...(consoleFiles.vnc && spec.console?.type === 'vnc' ? { vncSocket: consoleFiles.vnc } : {}),
    ...(seed ? { seed: seed.path } : {}),
    ...(ctx.virtType !== 'test'
      ? { guestAgent: true, ...(consoleFiles.dir ? { guestAgentSocket: `${consoleFiles.dir}/agent.sock` } : {}), userNet: sshPort !== undefined ? { forward: { address: ctx.forward!.address, hostPort: sshPort, guestPort: GUEST_SSH_PORT } } : {} }
      : {}),
  };
  let xml: string;
  try {
    xml = buildDomainXml(domain);
  } catch (err) {
    return problem('InvalidSpec', (err as Error).message, true);
  }
  return {
    desired: {
      namespace,
      name: meta.name,
      uid,
      generation: meta.generation ?? 0,
      runStrategy: spec.runStrategy ?? 'Always',
      everStarted: Boolean(status.startTime) && status.domainUUID === uid && status.host === ctx.host,
      evicting: (status.conditions ?? []).some((c) => c.type === EVICTING_CONDITION && c.status === 'True'),
      requests: pendingRequests(status, uid),
      domain,
      xml,
      volumes,
      ...(seed ? { seed } : {}),
    },
  };
}
