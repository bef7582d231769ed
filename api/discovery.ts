// Discovery documents as kubectl and client-go read them: /version, aggregated (apidiscovery v2)
// and legacy (/api, /apis, /apis/<group>/<version>). Pure builders from schemas/kinds.ts; no I/O.

import { API_VERSION, GROUP, KINDS, VERSION, type KindInfo } from '../schemas/kinds';
import { VM_ACTIONS } from './actions/decide';

// ---------------------------------------------------------------------------------------------
// Accept header parsing (shared with api/table.ts)

export interface MediaRange {
  /** e.g. application/json (lower case) */
  type: string;
  /** parameters with lower-case names, e.g. { g: 'apidiscovery.k8s.io', v: 'v2', as: 'APIGroupDiscoveryList' } */
  params: Record<string, string>;
  /** the q parameter, 1 when absent */
  q: number;
}

/** Splits an Accept header into media ranges, most preferred first (by q, then by order). */
export function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  const ranges: MediaRange[] = [];
  for (const clause of accept.split(',')) {
    const [typePart, ...paramParts] = clause.split(';');
    const type = typePart.trim().toLowerCase();
    if (!type) continue;
    const params: Record<string, string> = {};
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    const q = params.q === undefined ? 1 : Number(params.q);
    delete params.q;
    ranges.push({ type, params, q: Number.isFinite(q) ? q : 0 });
  }
  // Array.prototype.sort is stable: equal q keeps the client's order.
  return ranges.filter((r) => r.q > 0).sort((a, b) => b.q - a.q);
}

/** Whether a media range accepts JSON (application/json, application/*, *\/*). */
export function acceptsJson(r: MediaRange): boolean {
  return r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*';
}

// ---------------------------------------------------------------------------------------------
// /version

export interface VersionInfo {
  major: string;
  minor: string;
  gitVersion: string;
  gitCommit: string;
  gitTreeState: string;
  buildDate: string;
  goVersion: string;
  compiler: string;
  platform: string;
}

/**
 * The body of GET /version. `minor` matters: the kubectl dispatcher on these machines runs the
 * kubectl whose minor version matches it, and kubectl warns about skew beyond one minor version.
 */
export function versionInfo(overrides: Partial<VersionInfo> = {}): VersionInfo {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-stratus',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${arch}`,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// Verbs

/** Verbs on every Stratus kind (Hosts too: agents register them, admins edit labels and taints). */
export const KIND_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
/** Verbs on the status subresource. */
export const STATUS_VERBS = ['get', 'patch', 'update'] as const;
/** Verbs of the VM actions (api/actions/): PUT (or POST) with an optional body, authorized as update. */
export const ACTION_VERBS = ['update'] as const;

/** The subresources of a kind besides status. */
function actionSubresources(k: KindInfo): readonly string[] {
  return k.kind === 'VirtualMachine' ? VM_ACTIONS : [];
}
/**
 * The console subresources of a kind (api/console/), with their verbs as Kubernetes lists pods/exec
 * and pods/log: the console and VNC websockets (GET, authorized as create), the log (get).
 */
function consoleSubresources(k: KindInfo): { subresource: string; verbs: string[] }[] {
  return k.kind === 'VirtualMachine'
    ? [{ subresource: 'console', verbs: ['create', 'get'] }, { subresource: 'vnc', verbs: ['create', 'get'] }, { subresource: 'log', verbs: ['get'] }]
    : [];
}
/** A Network's leases (api/networks/leases.ts): read-only, a NetworkLeaseList. */
function leaseSubresources(k: KindInfo): { subresource: string; kind: string; verbs: string[] }[] {
  return k.kind === 'Network' ? [{ subresource: 'leases', kind: 'NetworkLeaseList', verbs: ['get'] }] : [];
}
/** Projects answer read-only as core/v1 Namespaces. */
export const NAMESPACE_VERBS = ['get', 'list'] as const;
/** core/v1 Events are read-only: the controllers and agents record them (api/events/). */
export const EVENT_VERBS = ['get', 'list', 'watch'] as const;

// ---------------------------------------------------------------------------------------------
// Aggregated discovery (apidiscovery.k8s.io/v2, also served as v2beta1)

export const DISCOVERY_GROUP = 'apidiscovery.k8s.io';
export const DISCOVERY_V2_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const DISCOVERY_V2BETA1_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

export type AggregatedVersion = 'v2' | 'v2beta1';

export interface AggregatedFormat {
  version: AggregatedVersion;
  /** the Content-Type to answer with; kubectl panics if the aggregated body comes as plain JSON */
  contentType: string;
}

/**
 * Decides the discovery format for GET /api and GET /apis from the Accept header: the first
 * (most preferred) range we can serve wins. Returns the aggregated format, or undefined for the
 * legacy documents (APIVersions / APIGroupList), which plain application/json, *\/* or no Accept get.
 */
export function wantsAggregated(accept: string | undefined): AggregatedFormat | undefined {
  for (const r of parseAccept(accept)) {
    if (!acceptsJson(r)) continue;
    const { g, v, as } = r.params;
    if (g === undefined && v === undefined && as === undefined) return undefined; // legacy JSON
    if (g === DISCOVERY_GROUP && as === 'APIGroupDiscoveryList') {
      if (v === 'v2') return { version: 'v2', contentType: DISCOVERY_V2_CONTENT_TYPE };
      if (v === 'v2beta1') return { version: 'v2beta1', contentType: DISCOVERY_V2BETA1_CONTENT_TYPE };
    }
    // any other g/v/as (e.g. a Table) is not something discovery can answer: try the next range
  }
  return undefined;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface APISubresourceDiscovery {
  subresource: string;
  responseKind: GroupVersionKind;
  verbs: string[];
}

export interface APIResourceDiscovery {
  resource: string;
  responseKind: GroupVersionKind;
  scope: 'Namespaced' | 'Cluster';
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources?: APISubresourceDiscovery[];
}

export interface APIVersionDiscovery {
  version: string;
  resources: APIResourceDiscovery[];
  freshness: 'Current' | 'Stale';
}

export interface APIGroupDiscovery {
  metadata: { name: string };
  versions: APIVersionDiscovery[];
}

export interface APIGroupDiscoveryList {
  kind: 'APIGroupDiscoveryList';
  apiVersion: string;
  metadata: Record<string, never>;
  items: APIGroupDiscovery[];
}

function gvk(kind: string): GroupVersionKind {
  return { group: GROUP, version: VERSION, kind };
}

function resourceDiscovery(k: KindInfo): APIResourceDiscovery {
  const r: APIResourceDiscovery = {
    resource: k.plural,
    responseKind: gvk(k.kind),
    scope: k.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: k.singular,
    verbs: [...KIND_VERBS],
    shortNames: [...k.shortNames],
  };
  if (k.categories.length > 0) r.categories = [...k.categories];
  r.subresources = [{ subresource: 'status', responseKind: gvk(k.kind), verbs: [...STATUS_VERBS] }];
  for (const sub of actionSubresources(k)) r.subresources.push({ subresource: sub, responseKind: { group: '', version: 'v1', kind: 'Status' }, verbs: [...ACTION_VERBS] });
  for (const c of consoleSubresources(k)) r.subresources.push({ subresource: c.subresource, responseKind: { group: '', version: 'v1', kind: 'Status' }, verbs: c.verbs });
  for (const l of leaseSubresources(k)) r.subresources.push({ subresource: l.subresource, responseKind: gvk(l.kind), verbs: l.verbs });
  return r;
}

/** Body of GET /apis for aggregated discovery: the stratuslab.eu group with every kind. */
export function aggregatedDiscovery(version: AggregatedVersion = 'v2', kinds: readonly KindInfo[] = KINDS): APIGroupDiscoveryList {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `${DISCOVERY_GROUP}/${version}`,
    metadata: {},
    items: [{ metadata: { name: GROUP }, versions: [{ version: VERSION, resources: kinds.map(resourceDiscovery), freshness: 'Current' }] }],
  };
}

/**
 * Body of GET /api for aggregated discovery: the core group with `namespaces` (Projects seen as
 * Namespaces; get and list), so `kubectl get ns` works, and `events` (read-only; kubectl get
 * events, kubectl events and kubectl describe read them there). It must be aggregated too:
 * a plain APIVersions here makes kubectl ignore the aggregated /apis. Serving it requires
 * GET /api/v1/namespaces[/{name}] (kubectl's apply probes GET /api/v1/namespaces/{ns} anyway).
 */
export function aggregatedLegacyDiscovery(version: AggregatedVersion = 'v2'): APIGroupDiscoveryList {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `${DISCOVERY_GROUP}/${version}`,
    metadata: {},
    items: [{
      metadata: { name: '' },
      versions: [{
        version: 'v1',
        resources: [{
          resource: 'namespaces',
          responseKind: { group: '', version: 'v1', kind: 'Namespace' },
          scope: 'Cluster',
          singularResource: 'namespace',
          verbs: [...NAMESPACE_VERBS],
          shortNames: ['ns'],
        }, {
          resource: 'events',
          responseKind: { group: '', version: 'v1', kind: 'Event' },
          scope: 'Namespaced',
          singularResource: 'event',
          verbs: [...EVENT_VERBS],
          shortNames: ['ev'],
        }],
        freshness: 'Current',
      }],
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// Legacy discovery

export interface GroupVersionForDiscovery {
  groupVersion: string;
  version: string;
}

export interface APIGroup {
  kind: 'APIGroup';
  apiVersion: 'v1';
  name: string;
  versions: GroupVersionForDiscovery[];
  preferredVersion: GroupVersionForDiscovery;
}

export interface APIGroupList {
  kind: 'APIGroupList';
  apiVersion: 'v1';
  groups: Omit<APIGroup, 'kind' | 'apiVersion'>[];
}

export interface APIVersions {
  kind: 'APIVersions';
  versions: string[];
}

export interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
}

export interface APIResourceList {
  kind: 'APIResourceList';
  apiVersion: 'v1';
  groupVersion: string;
  resources: APIResource[];
}

const GROUP_VERSION: GroupVersionForDiscovery = { groupVersion: API_VERSION, version: VERSION };

/** Body of GET /apis/stratuslab.eu (legacy). */
export function apiGroup(): APIGroup {
  return { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: [{ ...GROUP_VERSION }], preferredVersion: { ...GROUP_VERSION } };
}

/** Body of GET /apis for legacy discovery. */
export function apiGroupList(): APIGroupList {
  const { name, versions, preferredVersion } = apiGroup();
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name, versions, preferredVersion }] };
}

/** Body of GET /api for legacy discovery: core v1, which holds namespaces and events (see coreV1ResourceList). */
export function apiVersions(): APIVersions {
  return { kind: 'APIVersions', versions: ['v1'] };
}

/** Body of GET /apis/stratuslab.eu/v1alpha1: every kind and its status subresource. */
export function apiResourceList(kinds: readonly KindInfo[] = KINDS): APIResourceList {
  const resources: APIResource[] = [];
  for (const k of kinds) {
    const r: APIResource = {
      name: k.plural,
      singularName: k.singular,
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: [...KIND_VERBS],
      shortNames: [...k.shortNames],
    };
    if (k.categories.length > 0) r.categories = [...k.categories];
    resources.push(r);
    resources.push({ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: [...STATUS_VERBS] });
    for (const sub of actionSubresources(k)) resources.push({ name: `${k.plural}/${sub}`, singularName: '', namespaced: k.namespaced, kind: 'Status', verbs: [...ACTION_VERBS] });
    for (const c of consoleSubresources(k)) resources.push({ name: `${k.plural}/${c.subresource}`, singularName: '', namespaced: k.namespaced, kind: 'Status', verbs: c.verbs });
    for (const l of leaseSubresources(k)) resources.push({ name: `${k.plural}/${l.subresource}`, singularName: '', namespaced: k.namespaced, kind: l.kind, verbs: l.verbs });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: API_VERSION, resources };
}

/** Body of GET /api/v1: namespaces (the read-only view of Projects) and events (read-only). */
export function coreV1ResourceList(): APIResourceList {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'v1',
    resources: [
      { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: [...NAMESPACE_VERBS], shortNames: ['ns'] },
      { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: [...EVENT_VERBS], shortNames: ['ev'] },
    ],
  };
}
