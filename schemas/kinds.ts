// The registry of Stratus resource kinds: names, scope and printing columns.
// api/, store/, cli/ and the OpenAPI generator all read kinds from here; shapes live in schemas/*.json.

export const GROUP = 'stratuslab.eu';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

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
}

export const KINDS: readonly KindInfo[] = [
  { kind: 'VirtualMachine', plural: 'virtualmachines', singular: 'virtualmachine', shortNames: ['vm', 'vms'], namespaced: true, schemaFile: 'virtualmachine.json', categories: ['all'] },
  { kind: 'Volume', plural: 'volumes', singular: 'volume', shortNames: ['vol'], namespaced: true, schemaFile: 'volume.json', categories: ['all'] },
  { kind: 'Image', plural: 'images', singular: 'image', shortNames: ['img'], namespaced: true, schemaFile: 'image.json', categories: ['all'] },
  { kind: 'Host', plural: 'hosts', singular: 'host', shortNames: ['host'], namespaced: false, schemaFile: 'host.json', categories: [] },
  { kind: 'Project', plural: 'projects', singular: 'project', shortNames: ['proj'], namespaced: false, schemaFile: 'project.json', categories: [] },
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
