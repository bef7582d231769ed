/**
 * Koffi declarations for the part of the libvirt C API (libvirt.so.0) that Stratus uses.
 * Owns: the C prototypes, struct and callback types, and the lazily loaded main-thread library.
 *
 * The declarations are plain data (`LIBVIRT_SPEC`) so that the executor's worker threads, which
 * each load koffi and libvirt for themselves, declare exactly the same functions as the main
 * thread. All handles (virConnectPtr, virDomainPtr, ...) are koffi 3 pointers, i.e. BigInts, so
 * they cross thread boundaries as plain values: every thread shares the one process-wide libvirt.
 */
import koffi, { type LibraryHandle } from 'koffi';

/** Structs, by koffi name: field name -> koffi type. Order matters (it is the C layout). */
const STRUCTS: Record<string, Record<string, string>> = {
  virError: {
    code: 'int',
    domain: 'int',
    message: 'char *',
    level: 'int',
    conn: 'void *',
    dom: 'void *',
    str1: 'char *',
    str2: 'char *',
    str3: 'char *',
    int1: 'int',
    int2: 'int',
    net: 'void *',
  },
  virNodeInfo: {
    model: 'char[32]',
    memory: 'unsigned long',
    cpus: 'unsigned int',
    mhz: 'unsigned int',
    nodes: 'unsigned int',
    sockets: 'unsigned int',
    cores: 'unsigned int',
    threads: 'unsigned int',
  },
  virDomainInfo: {
    state: 'unsigned char',
    maxMem: 'unsigned long',
    memory: 'unsigned long',
    nrVirtCpu: 'unsigned short',
    cpuTime: 'unsigned long long',
  },
  virStoragePoolInfo: {
    state: 'int',
    capacity: 'unsigned long long',
    allocation: 'unsigned long long',
    available: 'unsigned long long',
  },
  virStorageVolInfo: {
    type: 'int',
    capacity: 'unsigned long long',
    allocation: 'unsigned long long',
  },
  virDomainBlockStatsStruct: {
    rd_req: 'long long',
    rd_bytes: 'long long',
    wr_req: 'long long',
    wr_bytes: 'long long',
    errs: 'long long',
  },
  virDomainInterfaceStatsStruct: {
    rx_bytes: 'long long',
    rx_packets: 'long long',
    rx_errs: 'long long',
    rx_drop: 'long long',
    tx_bytes: 'long long',
    tx_packets: 'long long',
    tx_errs: 'long long',
    tx_drop: 'long long',
  },
  /** One element of the array virDomainInterfaceAddresses returns (virDomainInterface). */
  virDomainInterface: {
    name: 'char *',
    hwaddr: 'char *',
    naddrs: 'unsigned int',
    addrs: 'void *',
  },
  /** One address of a virDomainInterface (virDomainIPAddress). */
  virDomainIPAddress: {
    type: 'int',
    addr: 'char *',
    prefix: 'unsigned int',
  },
  /** One element of the array virConnectGetAllDomainStats returns. */
  virDomainStatsRecord: {
    dom: 'void *',
    params: 'void *',
    nparams: 'int',
  },
};

/** Opaque handle types (they make the prototypes readable; values are BigInt pointers). */
const OPAQUES = ['virConnect', 'virDomain', 'virStoragePool', 'virStorageVol'];

/** Callback prototypes, for koffi.register on the main thread. */
const CALLBACKS = [
  // virConnectDomainEventCallback, the VIR_DOMAIN_EVENT_ID_LIFECYCLE signature.
  'int virLifecycleCallback(virConnect *conn, virDomain *dom, int event, int detail, void *opaque)',
  'void virEventTimeoutCallback(int timer, void *opaque)',
];

/**
 * C functions. `char *!` marks strings that libvirt allocates and the caller frees: koffi copies
 * them into a JS string and then frees the C string. `const char *` results are owned by libvirt.
 */
const FUNCTIONS = [
  // Library, errors, event loop
  'int virInitialize()',
  'int virGetVersion(_Out_ unsigned long *libVer, const char *type, _Out_ unsigned long *typeVer)',
  'virError *virGetLastError()',
  'void virResetLastError()',
  'void virSetErrorFunc(void *userData, void *handler)',
  'int virEventRegisterDefaultImpl()',
  'int virEventRunDefaultImpl()',
  'int virEventAddTimeout(int timeout, virEventTimeoutCallback *cb, void *opaque, void *ff)',
  'void virEventUpdateTimeout(int timer, int timeout)',
  'int virEventRemoveTimeout(int timer)',
  // Connections and the host
  'virConnect *virConnectOpen(const char *name)',
  'int virConnectClose(virConnect *conn)',
  'int virConnectIsAlive(virConnect *conn)',
  'char *! virConnectGetHostname(virConnect *conn)',
  'char *! virConnectGetCapabilities(virConnect *conn)',
  'int virConnectGetLibVersion(virConnect *conn, _Out_ unsigned long *libVer)',
  'int virNodeGetInfo(virConnect *conn, _Out_ virNodeInfo *info)',
  'int virConnectDomainEventRegisterAny(virConnect *conn, virDomain *dom, int eventID, void *cb, void *opaque, void *freecb)',
  'int virConnectDomainEventDeregisterAny(virConnect *conn, int callbackID)',
  // Domains
  'virDomain *virDomainDefineXMLFlags(virConnect *conn, const char *xml, unsigned int flags)',
  'virDomain *virDomainLookupByName(virConnect *conn, const char *name)',
  'virDomain *virDomainLookupByUUIDString(virConnect *conn, const char *uuid)',
  'int virConnectListAllDomains(virConnect *conn, _Out_ void **domains, unsigned int flags)',
  'int virDomainFree(virDomain *dom)',
  'const char *virDomainGetName(virDomain *dom)',
  'int virDomainGetUUIDString(virDomain *dom, char *buf)',
  'int virDomainCreateWithFlags(virDomain *dom, unsigned int flags)',
  'int virDomainShutdownFlags(virDomain *dom, unsigned int flags)',
  'int virDomainDestroyFlags(virDomain *dom, unsigned int flags)',
  'int virDomainReboot(virDomain *dom, unsigned int flags)',
  'int virDomainSuspend(virDomain *dom)',
  'int virDomainResume(virDomain *dom)',
  'int virDomainUndefineFlags(virDomain *dom, unsigned int flags)',
  'int virDomainGetState(virDomain *dom, _Out_ int *state, _Out_ int *reason, unsigned int flags)',
  'int virDomainGetInfo(virDomain *dom, _Out_ virDomainInfo *info)',
  'char *! virDomainGetXMLDesc(virDomain *dom, unsigned int flags)',
  'int virDomainSetMetadata(virDomain *dom, int type, const char *metadata, const char *key, const char *uri, unsigned int flags)',
  'char *! virDomainGetMetadata(virDomain *dom, int type, const char *uri, unsigned int flags)',
  'int virDomainIsActive(virDomain *dom)',
  'int virDomainIsPersistent(virDomain *dom)',
  'int virDomainBlockStats(virDomain *dom, const char *disk, _Out_ virDomainBlockStatsStruct *stats, size_t size)',
  'int virDomainInterfaceStats(virDomain *dom, const char *device, _Out_ virDomainInterfaceStatsStruct *stats, size_t size)',
  'int virConnectGetAllDomainStats(virConnect *conn, unsigned int stats, _Out_ void **retStats, unsigned int flags)',
  'int virDomainListGetStats(void **doms, unsigned int stats, _Out_ void **retStats, unsigned int flags)',
  'void virDomainStatsRecordListFree(void *stats)',
  'int virDomainInterfaceAddresses(virDomain *dom, _Out_ void **ifaces, unsigned int source, unsigned int flags)',
  'void virDomainInterfaceFree(void *iface)',
  // Storage pools
  'virStoragePool *virStoragePoolLookupByName(virConnect *conn, const char *name)',
  'int virConnectListAllStoragePools(virConnect *conn, _Out_ void **pools, unsigned int flags)',
  'virStoragePool *virStoragePoolDefineXML(virConnect *conn, const char *xml, unsigned int flags)',
  'int virStoragePoolFree(virStoragePool *pool)',
  'const char *virStoragePoolGetName(virStoragePool *pool)',
  'int virStoragePoolGetUUIDString(virStoragePool *pool, char *buf)',
  'int virStoragePoolBuild(virStoragePool *pool, unsigned int flags)',
  'int virStoragePoolCreate(virStoragePool *pool, unsigned int flags)',
  'int virStoragePoolDestroy(virStoragePool *pool)',
  'int virStoragePoolUndefine(virStoragePool *pool)',
  'int virStoragePoolRefresh(virStoragePool *pool, unsigned int flags)',
  'int virStoragePoolIsActive(virStoragePool *pool)',
  'int virStoragePoolSetAutostart(virStoragePool *pool, int autostart)',
  'int virStoragePoolGetInfo(virStoragePool *pool, _Out_ virStoragePoolInfo *info)',
  'char *! virStoragePoolGetXMLDesc(virStoragePool *pool, unsigned int flags)',
  'int virStoragePoolListAllVolumes(virStoragePool *pool, _Out_ void **vols, unsigned int flags)',
  // Storage volumes
  'virStorageVol *virStorageVolCreateXML(virStoragePool *pool, const char *xml, unsigned int flags)',
  'virStorageVol *virStorageVolCreateXMLFrom(virStoragePool *pool, const char *xml, virStorageVol *clonevol, unsigned int flags)',
  'virStorageVol *virStorageVolLookupByName(virStoragePool *pool, const char *name)',
  'int virStorageVolFree(virStorageVol *vol)',
  'const char *virStorageVolGetName(virStorageVol *vol)',
  'const char *virStorageVolGetKey(virStorageVol *vol)',
  'int virStorageVolDelete(virStorageVol *vol, unsigned int flags)',
  'int virStorageVolResize(virStorageVol *vol, unsigned long long capacity, unsigned int flags)',
  'int virStorageVolGetInfo(virStorageVol *vol, _Out_ virStorageVolInfo *info)',
  'char *! virStorageVolGetPath(virStorageVol *vol)',
  'char *! virStorageVolGetXMLDesc(virStorageVol *vol, unsigned int flags)',
] as const;

/** Everything a thread needs to declare the binding; structured-cloneable (goes to workers). */
export interface LibvirtSpec {
  library: string;
  opaques: string[];
  structs: Record<string, Record<string, string>>;
  callbacks: string[];
  functions: string[];
}

/** The shared object name; the runtime package is Debian's `libvirt0`. */
export const LIBVIRT_SONAME = 'libvirt.so.0';

export const LIBVIRT_SPEC: LibvirtSpec = {
  library: LIBVIRT_SONAME,
  opaques: OPAQUES,
  structs: STRUCTS,
  callbacks: CALLBACKS,
  functions: [...FUNCTIONS],
};

type BeforeParen<S extends string> = S extends `${infer H}(${string}` ? H : never;
type LastWord<S extends string> = S extends `${string} ${infer R}`
  ? LastWord<R>
  : S extends `${string}*${infer R}`
    ? LastWord<R>
    : S;
/** Name of a declared C function, taken from its prototype string. */
export type LibvirtFunctionName = LastWord<BeforeParen<(typeof FUNCTIONS)[number]>>;

/** The prototype's function name: the identifier right before the first '('. */
export function functionNameOf(prototype: string): string {
  const match = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(prototype);
  if (!match) throw new Error(`not a C prototype: ${prototype}`);
  return match[1];
}

/** A declared koffi function: callable synchronously, or on koffi's own threads via `.async`. */
export type NativeFunction = ((...args: unknown[]) => unknown) & {
  async: (...args: unknown[]) => void;
};

/** The main thread's view of the library. */
export interface LibvirtLibrary {
  readonly fn: Record<LibvirtFunctionName, NativeFunction>;
  /** Address of libc's free(); used as the process-wide no-op libvirt error handler. */
  readonly freeAddress: bigint;
  readonly koffi: typeof koffi;
}

function typeExists(name: string): boolean {
  try {
    koffi.type(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Declares `spec` in this thread's koffi instance; the worker source mirrors this function.
 * Koffi's type names are per thread, not per module instance, so types already declared (by an
 * earlier evaluation of this module, as under jest) are reused rather than redeclared.
 */
function declare(spec: LibvirtSpec): { lib: LibraryHandle; fn: Record<string, NativeFunction> } {
  const lib = koffi.load(spec.library);
  for (const name of spec.opaques) if (!typeExists(name)) koffi.opaque(name);
  for (const [name, fields] of Object.entries(spec.structs)) if (!typeExists(name)) koffi.struct(name, fields);
  for (const proto of spec.callbacks) if (!typeExists(functionNameOf(proto))) koffi.proto(proto);
  const fn: Record<string, NativeFunction> = {};
  for (const proto of spec.functions) fn[functionNameOf(proto)] = lib.func(proto) as NativeFunction;
  return { lib, fn };
}

/** State that mirrors libvirt's process-global state (see processState()). */
export interface ProcessState {
  eventImplRegistered: boolean;
  /** The event loop pump (events.ts). */
  pump: {
    users: number;
    running: Promise<void> | undefined;
    stopRequested: boolean;
    wakeTimer: number;
    wakeTrampoline: bigint | undefined;
  };
}

const PROCESS_STATE = Symbol.for('stratus.agents.libvirt.process-state.v1');

/**
 * libvirt's event loop registration and its pump exist once per process, so their bookkeeping
 * must too, even when this module is evaluated more than once in a process: jest evaluates it
 * afresh for every test file run in the same worker, and registering libvirt's event loop twice,
 * or running two pumps, would corrupt libvirt's loop. Node's core module objects are shared by
 * every such evaluation, so the state hangs off one of them under a registered symbol.
 */
export function processState(): ProcessState {
  const host = require('node:os') as Record<symbol, ProcessState | undefined>;
  host[PROCESS_STATE] ??= {
    eventImplRegistered: false,
    pump: { users: 0, running: undefined, stopRequested: false, wakeTimer: -1, wakeTrampoline: undefined },
  };
  return host[PROCESS_STATE];
}

let loaded: LibvirtLibrary | undefined;

/**
 * The main thread's libvirt, loaded on first use (cached per module instance; loading again in
 * a fresh module instance is harmless).
 *
 * Loading also: calls virInitialize (libvirt asks multithreaded programs to do so before any
 * other thread uses it), and installs libc's free() as the global error handler. libvirt calls
 * the handler as handler(userData=NULL, error) on the failing thread; free(NULL) does nothing, so
 * this silences libvirt's default "print every error to stderr" without a JS callback (a JS
 * callback would have to hop to the main thread on every error, from every worker thread).
 * Errors are still reported: each worker copies its thread's last error (see executor.ts).
 */
export function libvirt(): LibvirtLibrary {
  if (loaded) return loaded;
  let declared: ReturnType<typeof declare>;
  try {
    declared = declare(LIBVIRT_SPEC);
  } catch (err) {
    throw new Error(
      `cannot load ${LIBVIRT_SONAME} (install the Debian package libvirt0): ${(err as Error).message}`,
    );
  }
  const fn = declared.fn as Record<LibvirtFunctionName, NativeFunction>;
  if ((fn.virInitialize() as number) < 0) throw new Error('virInitialize failed');
  const freeAddress = declared.lib.symbol('free') as bigint;
  fn.virSetErrorFunc(null, freeAddress);
  loaded = { fn, freeAddress, koffi };
  return loaded;
}

/**
 * Registers libvirt's default event loop implementation, once per process. libvirt needs it
 * registered before a connection is opened for that connection to deliver events (and, on
 * remote connections, keepalives); LibvirtConnection.open calls this first. The loop itself is
 * pumped by events.ts only while someone listens.
 */
export function ensureEventImpl(): void {
  const state = processState();
  if (state.eventImplRegistered) return;
  if ((libvirt().fn.virEventRegisterDefaultImpl() as number) < 0) {
    throw new Error('virEventRegisterDefaultImpl failed');
  }
  state.eventImplRegistered = true;
}

/** The libvirt library version as "major.minor.micro". */
export function libvirtVersion(): string {
  const out = [0];
  libvirt().fn.virGetVersion(out, null, null);
  const v = out[0];
  return `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
}
