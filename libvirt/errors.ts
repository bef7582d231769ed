/**
 * LibvirtError: a failed libvirt call, with libvirt's own error number, domain and message.
 * Owns: the name tables for virErrorNumber and virErrorDomain (libvirt 9.0's virterror.h).
 */

/** virErrorNumber names, indexed by number (libvirt 9.0; later numbers become VIR_ERR_<n>). */
const ERROR_CODES = [
  'VIR_ERR_OK', 'VIR_ERR_INTERNAL_ERROR', 'VIR_ERR_NO_MEMORY', 'VIR_ERR_NO_SUPPORT',
  'VIR_ERR_UNKNOWN_HOST', 'VIR_ERR_NO_CONNECT', 'VIR_ERR_INVALID_CONN', 'VIR_ERR_INVALID_DOMAIN',
  'VIR_ERR_INVALID_ARG', 'VIR_ERR_OPERATION_FAILED', 'VIR_ERR_GET_FAILED', 'VIR_ERR_POST_FAILED',
  'VIR_ERR_HTTP_ERROR', 'VIR_ERR_SEXPR_SERIAL', 'VIR_ERR_NO_XEN', 'VIR_ERR_XEN_CALL',
  'VIR_ERR_OS_TYPE', 'VIR_ERR_NO_KERNEL', 'VIR_ERR_NO_ROOT', 'VIR_ERR_NO_SOURCE',
  'VIR_ERR_NO_TARGET', 'VIR_ERR_NO_NAME', 'VIR_ERR_NO_OS', 'VIR_ERR_NO_DEVICE',
  'VIR_ERR_NO_XENSTORE', 'VIR_ERR_DRIVER_FULL', 'VIR_ERR_CALL_FAILED', 'VIR_ERR_XML_ERROR',
  'VIR_ERR_DOM_EXIST', 'VIR_ERR_OPERATION_DENIED', 'VIR_ERR_OPEN_FAILED', 'VIR_ERR_READ_FAILED',
  'VIR_ERR_PARSE_FAILED', 'VIR_ERR_CONF_SYNTAX', 'VIR_ERR_WRITE_FAILED', 'VIR_ERR_XML_DETAIL',
  'VIR_ERR_INVALID_NETWORK', 'VIR_ERR_NETWORK_EXIST', 'VIR_ERR_SYSTEM_ERROR', 'VIR_ERR_RPC',
  'VIR_ERR_GNUTLS_ERROR', 'VIR_WAR_NO_NETWORK', 'VIR_ERR_NO_DOMAIN', 'VIR_ERR_NO_NETWORK',
  'VIR_ERR_INVALID_MAC', 'VIR_ERR_AUTH_FAILED', 'VIR_ERR_INVALID_STORAGE_POOL',
  'VIR_ERR_INVALID_STORAGE_VOL', 'VIR_WAR_NO_STORAGE', 'VIR_ERR_NO_STORAGE_POOL',
  'VIR_ERR_NO_STORAGE_VOL', 'VIR_WAR_NO_NODE', 'VIR_ERR_INVALID_NODE_DEVICE',
  'VIR_ERR_NO_NODE_DEVICE', 'VIR_ERR_NO_SECURITY_MODEL', 'VIR_ERR_OPERATION_INVALID',
  'VIR_WAR_NO_INTERFACE', 'VIR_ERR_NO_INTERFACE', 'VIR_ERR_INVALID_INTERFACE',
  'VIR_ERR_MULTIPLE_INTERFACES', 'VIR_WAR_NO_NWFILTER', 'VIR_ERR_INVALID_NWFILTER',
  'VIR_ERR_NO_NWFILTER', 'VIR_ERR_BUILD_FIREWALL', 'VIR_WAR_NO_SECRET', 'VIR_ERR_INVALID_SECRET',
  'VIR_ERR_NO_SECRET', 'VIR_ERR_CONFIG_UNSUPPORTED', 'VIR_ERR_OPERATION_TIMEOUT',
  'VIR_ERR_MIGRATE_PERSIST_FAILED', 'VIR_ERR_HOOK_SCRIPT_FAILED',
  'VIR_ERR_INVALID_DOMAIN_SNAPSHOT', 'VIR_ERR_NO_DOMAIN_SNAPSHOT', 'VIR_ERR_INVALID_STREAM',
  'VIR_ERR_ARGUMENT_UNSUPPORTED', 'VIR_ERR_STORAGE_PROBE_FAILED', 'VIR_ERR_STORAGE_POOL_BUILT',
  'VIR_ERR_SNAPSHOT_REVERT_RISKY', 'VIR_ERR_OPERATION_ABORTED', 'VIR_ERR_AUTH_CANCELLED',
  'VIR_ERR_NO_DOMAIN_METADATA', 'VIR_ERR_MIGRATE_UNSAFE', 'VIR_ERR_OVERFLOW',
  'VIR_ERR_BLOCK_COPY_ACTIVE', 'VIR_ERR_OPERATION_UNSUPPORTED', 'VIR_ERR_SSH',
  'VIR_ERR_AGENT_UNRESPONSIVE', 'VIR_ERR_RESOURCE_BUSY', 'VIR_ERR_ACCESS_DENIED',
  'VIR_ERR_DBUS_SERVICE', 'VIR_ERR_STORAGE_VOL_EXIST', 'VIR_ERR_CPU_INCOMPATIBLE',
  'VIR_ERR_XML_INVALID_SCHEMA', 'VIR_ERR_MIGRATE_FINISH_OK', 'VIR_ERR_AUTH_UNAVAILABLE',
  'VIR_ERR_NO_SERVER', 'VIR_ERR_NO_CLIENT', 'VIR_ERR_AGENT_UNSYNCED', 'VIR_ERR_LIBSSH',
  'VIR_ERR_DEVICE_MISSING', 'VIR_ERR_INVALID_NWFILTER_BINDING', 'VIR_ERR_NO_NWFILTER_BINDING',
  'VIR_ERR_INVALID_DOMAIN_CHECKPOINT', 'VIR_ERR_NO_DOMAIN_CHECKPOINT', 'VIR_ERR_NO_DOMAIN_BACKUP',
  'VIR_ERR_INVALID_NETWORK_PORT', 'VIR_ERR_NETWORK_PORT_EXIST', 'VIR_ERR_NO_NETWORK_PORT',
  'VIR_ERR_NO_HOSTNAME', 'VIR_ERR_CHECKPOINT_INCONSISTENT', 'VIR_ERR_MULTIPLE_DOMAINS',] as const;

/** virErrorDomain names (which part of libvirt raised the error), indexed by number. */
const ERROR_DOMAINS = [
  'VIR_FROM_NONE', 'VIR_FROM_XEN', 'VIR_FROM_XEND', 'VIR_FROM_XENSTORE', 'VIR_FROM_SEXPR',
  'VIR_FROM_XML', 'VIR_FROM_DOM', 'VIR_FROM_RPC', 'VIR_FROM_PROXY', 'VIR_FROM_CONF',
  'VIR_FROM_QEMU', 'VIR_FROM_NET', 'VIR_FROM_TEST', 'VIR_FROM_REMOTE', 'VIR_FROM_OPENVZ',
  'VIR_FROM_XENXM', 'VIR_FROM_STATS_LINUX', 'VIR_FROM_LXC', 'VIR_FROM_STORAGE', 'VIR_FROM_NETWORK',
  'VIR_FROM_DOMAIN', 'VIR_FROM_UML', 'VIR_FROM_NODEDEV', 'VIR_FROM_XEN_INOTIFY',
  'VIR_FROM_SECURITY', 'VIR_FROM_VBOX', 'VIR_FROM_INTERFACE', 'VIR_FROM_ONE', 'VIR_FROM_ESX',
  'VIR_FROM_PHYP', 'VIR_FROM_SECRET', 'VIR_FROM_CPU', 'VIR_FROM_XENAPI', 'VIR_FROM_NWFILTER',
  'VIR_FROM_HOOK', 'VIR_FROM_DOMAIN_SNAPSHOT', 'VIR_FROM_AUDIT', 'VIR_FROM_SYSINFO',
  'VIR_FROM_STREAMS', 'VIR_FROM_VMWARE', 'VIR_FROM_EVENT', 'VIR_FROM_LIBXL', 'VIR_FROM_LOCKING',
  'VIR_FROM_HYPERV', 'VIR_FROM_CAPABILITIES', 'VIR_FROM_URI', 'VIR_FROM_AUTH', 'VIR_FROM_DBUS',
  'VIR_FROM_PARALLELS', 'VIR_FROM_DEVICE', 'VIR_FROM_SSH', 'VIR_FROM_LOCKSPACE',
  'VIR_FROM_INITCTL', 'VIR_FROM_IDENTITY', 'VIR_FROM_CGROUP', 'VIR_FROM_ACCESS',
  'VIR_FROM_SYSTEMD', 'VIR_FROM_BHYVE', 'VIR_FROM_CRYPTO', 'VIR_FROM_FIREWALL', 'VIR_FROM_POLKIT',
  'VIR_FROM_THREAD', 'VIR_FROM_ADMIN', 'VIR_FROM_LOGGING', 'VIR_FROM_XENXL', 'VIR_FROM_PERF',
  'VIR_FROM_LIBSSH', 'VIR_FROM_RESCTRL', 'VIR_FROM_FIREWALLD', 'VIR_FROM_DOMAIN_CHECKPOINT',
  'VIR_FROM_TPM', 'VIR_FROM_BPF', 'VIR_FROM_CH',] as const;

export type LibvirtErrorCode = (typeof ERROR_CODES)[number] | `VIR_ERR_${number}`;
export type LibvirtErrorDomain = (typeof ERROR_DOMAINS)[number] | `VIR_FROM_${number}`;

/** The numeric virErrorNumber for a code name, e.g. 42 for 'VIR_ERR_NO_DOMAIN'. */
export function errorNumberOf(code: (typeof ERROR_CODES)[number]): number {
  return ERROR_CODES.indexOf(code);
}

export function errorCodeName(number: number): LibvirtErrorCode {
  return ERROR_CODES[number] ?? `VIR_ERR_${number}`;
}

export function errorDomainName(number: number): LibvirtErrorDomain {
  return ERROR_DOMAINS[number] ?? `VIR_FROM_${number}`;
}

/** The fields of libvirt's virError that outlive the call (its pointers do not). */
export interface VirErrorFields {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  str1: string | null;
  str2: string | null;
  str3: string | null;
  int1: number;
  int2: number;
}

/**
 * A libvirt call failed. Match on `code` (stable across libvirt versions and jest realms), e.g.
 * `err.code === 'VIR_ERR_NO_DOMAIN'`; `number` is libvirt's numeric virErrorNumber.
 */
export class LibvirtError extends Error {
  override readonly name = 'LibvirtError';
  /** virErrorNumber as a name, e.g. 'VIR_ERR_NO_DOMAIN'. */
  readonly code: LibvirtErrorCode;
  /** virErrorNumber, e.g. 42. */
  readonly number: number;
  /** The part of libvirt that raised it, e.g. 'VIR_FROM_QEMU'. */
  readonly domain: LibvirtErrorDomain;
  readonly domainNumber: number;
  /** 'error' or 'warning' (virErrorLevel). */
  readonly level: 'none' | 'warning' | 'error';
  /** The libvirt C function that failed, e.g. 'virDomainCreateWithFlags'. */
  readonly call: string;
  /** Extra detail libvirt attaches to some errors (often the raw format string and argument). */
  readonly str1?: string;
  readonly str2?: string;
  readonly str3?: string;
  readonly int1?: number;
  readonly int2?: number;

  constructor(call: string, fields: VirErrorFields) {
    super(fields.message ?? `${call} failed (${errorCodeName(fields.code)})`);
    this.code = errorCodeName(fields.code);
    this.number = fields.code;
    this.domain = errorDomainName(fields.domain);
    this.domainNumber = fields.domain;
    this.level = fields.level === 1 ? 'warning' : fields.level === 0 ? 'none' : 'error';
    this.call = call;
    if (fields.str1 !== null) this.str1 = fields.str1;
    if (fields.str2 !== null) this.str2 = fields.str2;
    if (fields.str3 !== null) this.str3 = fields.str3;
    if (fields.int1 !== -1) this.int1 = fields.int1;
    if (fields.int2 !== -1) this.int2 = fields.int2;
  }

  /** An error raised by this binding itself, using the libvirt code libvirt would have used. */
  static local(call: string, code: (typeof ERROR_CODES)[number], message: string): LibvirtError {
    return new LibvirtError(call, {
      code: errorNumberOf(code),
      domain: 0,
      message,
      level: 2,
      str1: null,
      str2: null,
      str3: null,
      int1: -1,
      int2: -1,
    });
  }
}

/** True for a LibvirtError (or a look-alike from another jest realm) with the given code. */
export function isLibvirtError(err: unknown, code?: LibvirtErrorCode): err is LibvirtError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  return e.name === 'LibvirtError' && (code === undefined || e.code === code);
}

/**
 * Codes with which libvirt reports a connection that is closed or broken: the daemon went away
 * (VIR_ERR_SYSTEM_ERROR "End of file while reading data", VIR_ERR_RPC), the handle is no longer
 * valid (VIR_ERR_INVALID_CONN), or there is none (VIR_ERR_NO_CONNECT).
 */
const CONNECTION_CODES: ReadonlySet<string> = new Set(['VIR_ERR_SYSTEM_ERROR', 'VIR_ERR_INVALID_CONN', 'VIR_ERR_RPC', 'VIR_ERR_NO_CONNECT']);

/**
 * True when `err` (or its `cause`, one level down) is a LibvirtError that may mean the connection
 * is gone. Only a hint: VIR_ERR_SYSTEM_ERROR also reports local I/O failures, so callers confirm
 * with virConnectIsAlive before acting on it.
 */
export function mayMeanConnectionLost(err: unknown): boolean {
  const cause = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  for (const e of [err, cause]) {
    if (isLibvirtError(e) && (CONNECTION_CODES.has(e.code) || e.domain === 'VIR_FROM_RPC' || e.domain === 'VIR_FROM_REMOTE')) return true;
  }
  return false;
}
