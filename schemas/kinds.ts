// The registry of Stratus resource kinds: names, scope and printing columns.
// api/, store/, cli/ and the OpenAPI generator all read kinds from here; shapes live in schemas/*.json.

export const GROUP = 'stratuslab.eu';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A column of `kubectl get` (a Kubernetes Table column, as in a CRD's additionalPrinterColumns). */
export interface PrinterColumn {
  name: string;
  /** date columns print as an age (e.g. "5m") */
  type: 'string' | 'integer' | 'number' | 'date';
  /** a dotted path such as .spec.cpu, or .status.conditions[?(@.type=="Ready")].status (kubectl's JSONPath, see kube/jsonpath.ts) */
  jsonPath: string;
  /** 0: always shown; 1: only with -o wide */
  priority?: 0 | 1;
  description?: string;
}

export interface KindInfo {
  /** e.g. VirtualMachine */
  kind: string;
  /** e.g. virtualmachines (the URL segment) */
  plural: string;
  /** e.g. virtualmachine */
  singular: string;
  shortNames: string[];
  /** true: lives in a project (namespace); false: cluster-scoped */
  namespaced: boolean;
  /** schemas/<schemaFile> holds the JSON Schema of the whole object */
  schemaFile: string;
  /** whether `kubectl get all` includes it */
  categories: string[];
  /** columns of `kubectl get` besides Name (and Namespace), in order; printed by kube/printer.ts */
  printerColumns?: PrinterColumn[];
}

const READY = '.status.conditions[?(@.type=="Ready")].status';
const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'VirtualMachine', plural: 'virtualmachines', singular: 'virtualmachine', shortNames: ['vm', 'vms'], namespaced: true, schemaFile: 'virtualmachine.json', categories: ['all'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'A one-word summary of the VM\'s state.' },
      { name: 'Host', type: 'string', jsonPath: '.status.host', description: 'The Host the VM is bound to.' },
      { name: 'CPU', type: 'integer', jsonPath: '.spec.cpu', description: 'vCPUs.' },
      { name: 'Memory', type: 'string', jsonPath: '.spec.memory', description: 'Guest memory.' },
      { name: 'Ready', type: 'string', jsonPath: READY, description: 'The Ready condition.' },
      AGE,
      { name: 'IP', type: 'string', jsonPath: '.status.ip', priority: 1, description: 'The guest\'s primary IP address.' },
      { name: 'Addresses', type: 'string', jsonPath: '.status.addresses[*].ipAddress', priority: 1, description: 'The addresses handed out to the interfaces on Networks.' },
      { name: 'Run Strategy', type: 'string', jsonPath: '.spec.runStrategy', priority: 1, description: 'Whether the VM should run.' },
      { name: 'Domain UUID', type: 'string', jsonPath: '.status.domainUUID', priority: 1, description: 'The libvirt domain.' },
      { name: 'Generation', type: 'integer', jsonPath: '.metadata.generation', priority: 1, description: 'The generation of the spec.' },
    ],
  },
  {
    kind: 'Volume', plural: 'volumes', singular: 'volume', shortNames: ['vol'], namespaced: true, schemaFile: 'volume.json', categories: ['all'],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'A one-word summary of the volume\'s state.' },
      { name: 'Size', type: 'string', jsonPath: '.spec.size', description: 'The requested size.' },
      { name: 'Host', type: 'string', jsonPath: '.status.host', description: 'The Host holding the volume.' },
      AGE,
      { name: 'Image', type: 'string', jsonPath: '.spec.image', priority: 1, description: 'The Image the volume was cloned from.' },
      { name: 'Path', type: 'string', jsonPath: '.status.path', priority: 1, description: 'The volume\'s path on the host.' },
    ],
  },
  {
    kind: 'Image', plural: 'images', singular: 'image', shortNames: ['img'], namespaced: true, schemaFile: 'image.json', categories: ['all'],
    printerColumns: [
      { name: 'Format', type: 'string', jsonPath: '.spec.format', description: 'The disk format.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'A one-word summary of the image\'s state.' },
      AGE,
      { name: 'Size', type: 'string', jsonPath: '.status.size', priority: 1, description: 'The virtual size, as found.' },
    ],
  },
  {
    kind: 'Host', plural: 'hosts', singular: 'host', shortNames: ['host'], namespaced: false, schemaFile: 'host.json', categories: [],
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: READY, description: 'Whether the agent\'s lease is fresh.' },
      { name: 'Unschedulable', type: 'string', jsonPath: '.spec.unschedulable', description: 'true: cordoned.' },
      { name: 'CPU', type: 'string', jsonPath: '.status.capacity.cpu', description: 'vCPUs of the hardware.' },
      { name: 'CPU Allocated', type: 'string', jsonPath: '.status.allocated.cpu', description: 'vCPUs handed out to VMs.' },
      { name: 'Memory', type: 'string', jsonPath: '.status.capacity.memory', description: 'Memory of the hardware.' },
      { name: 'Memory Allocated', type: 'string', jsonPath: '.status.allocated.memory', description: 'Memory handed out to VMs.' },
      AGE,
      { name: 'Libvirt URI', type: 'string', jsonPath: '.status.libvirtURI', priority: 1, description: 'The agent\'s libvirt connection.' },
      { name: 'Agent Version', type: 'string', jsonPath: '.status.agentVersion', priority: 1, description: 'The version of the agent.' },
    ],
  },
  {
    kind: 'Project', plural: 'projects', singular: 'project', shortNames: ['proj'], namespaced: false, schemaFile: 'project.json', categories: [],
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Active or Terminating.' },
      { name: 'VMs', type: 'integer', jsonPath: '.status.usage.vms', description: 'VirtualMachines in the project.' },
      { name: 'Quota VMs', type: 'integer', jsonPath: '.spec.quota.vms', description: 'The quota on VirtualMachines.' },
      AGE,
      { name: 'CPU', type: 'integer', jsonPath: '.status.usage.cpu', priority: 1, description: 'vCPUs used.' },
      { name: 'Memory', type: 'string', jsonPath: '.status.usage.memory', priority: 1, description: 'Memory used.' },
      { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1, description: 'What the project is for.' },
    ],
  },
  {
    kind: 'Network', plural: 'networks', singular: 'network', shortNames: ['net'], namespaced: true, schemaFile: 'network.json', categories: ['all'],
    printerColumns: [
      { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr', description: 'The IPv4 range.' },
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'nat, bridge or overlay.' },
      { name: 'Used', type: 'integer', jsonPath: '.status.addresses.used', description: 'Addresses held by VM interfaces.' },
      { name: 'Free', type: 'integer', jsonPath: '.status.addresses.free', description: 'Addresses left.' },
      { name: 'Ready', type: 'string', jsonPath: READY, description: 'The Ready condition.' },
      AGE,
      { name: 'Gateway', type: 'string', jsonPath: '.status.gateway', priority: 1, description: 'The guests\' default gateway.' },
      { name: 'VNI', type: 'integer', jsonPath: '.status.vni', priority: 1, description: 'The VXLAN network identifier (overlay).' },
      { name: 'Shared', type: 'string', jsonPath: '.spec.shared', priority: 1, description: 'Attachable from other projects.' },
    ],
  },
  {
    kind: 'SecurityGroup', plural: 'securitygroups', singular: 'securitygroup', shortNames: ['sg', 'sgs'], namespaced: true, schemaFile: 'securitygroup.json', categories: ['all'],
    printerColumns: [
      { name: 'Ingress', type: 'string', jsonPath: '.spec.ingress[*].protocol', description: 'Protocols of the ingress rules.' },
      { name: 'Egress', type: 'string', jsonPath: '.spec.egress[*].protocol', description: 'Protocols of the egress rules.' },
      { name: 'Members', type: 'integer', jsonPath: '.status.members', description: 'VM interfaces carrying the group.' },
      AGE,
    ],
  },
];

/** A kind the control plane stores for itself: never served by the API, typed from its schema all the same. */
export interface InternalKindInfo {
  kind: string;
  namespaced: boolean;
  /** schemas/<schemaFile> holds the JSON Schema of the whole object (types only: nothing validates against it) */
  schemaFile: string;
}

export const INTERNAL_KINDS: readonly InternalKindInfo[] = [
  /** a Host's allocation record (controllers/placement/allocation-record.ts) */
  { kind: 'HostAllocation', namespaced: false, schemaFile: 'hostallocation.json' },
  /** a topology domain held by an anti-affinity group member (controllers/placement/topology-claims.ts) */
  { kind: 'TopologyClaim', namespaced: true, schemaFile: 'topologyclaim.json' },
  /** one address of a Network held by one VM interface (controllers/ipam/) */
  { kind: 'AddressClaim', namespaced: true, schemaFile: 'addressclaim.json' },
  /** a core/v1 Event: not under stratuslab.eu, kept in its own table (store/events.ts), served read-only at /api/v1 (api/events/) */
  { kind: 'Event', namespaced: true, schemaFile: 'event.json' },
];

const byAnyName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.kind, k.plural, k.singular, ...k.shortNames, `${k.plural}.${GROUP}`, `${k.singular}.${GROUP}`]) {
    byAnyName.set(n.toLowerCase(), k);
  }
}

/** Resolves a kind from any of its names (kind, plural, singular, short name; case-insensitive). */
export function resolveKind(name: string): KindInfo | undefined {
  return byAnyName.get(name.toLowerCase());
}

export function kindByPlural(plural: string): KindInfo | undefined {
  const k = byAnyName.get(plural.toLowerCase());
  return k && k.plural === plural ? k : undefined;
}

export function kindByKind(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}
