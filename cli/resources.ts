// Kinds and REST paths as the CLI sees them: resolving `vm`, `virtualmachines.stratuslab.eu`, `vm/web-1`
// arguments, and building the Kubernetes-style URLs of collections and objects.

import { API_VERSION, GROUP, KINDS, VERSION, resolveKind, type KindInfo } from '../schemas/kinds';
import { UsageError } from './errors/usage-error';
import { EVENT_API_VERSION, EVENT_KIND } from '../kube/events';

export type { KindInfo };

/** Resolves a kind from any of its names, or fails like kubectl with a usage error. */
export function resolveKindOrThrow(name: string): KindInfo {
  let n = name.trim();
  // kubectl also accepts plural.version.group
  const fullSuffix = `.${VERSION}.${GROUP}`;
  if (n.toLowerCase().endsWith(fullSuffix)) n = n.slice(0, -fullSuffix.length);
  const k = n ? resolveKind(n) ?? coreKind(n) : undefined;
  if (!k) throw new UsageError(`the server doesn't have a resource type "${name}"`);
  return k;
}

/** core/v1 kinds the CLI reads besides the stratuslab.eu ones: Events (`events`, `event`, `ev`, `events.v1.`). */
function coreKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase().replace(/\.(v1\.)?$/, '');
  return ['events', 'event', 'ev'].includes(n) ? EVENT_KIND : undefined;
}

/** The API prefix of a kind: /api/v1 for core kinds (Events), /apis/stratuslab.eu/v1alpha1 otherwise. */
export function apiPrefix(kind: KindInfo): string {
  return kind === EVENT_KIND ? `/api/${EVENT_API_VERSION}` : `/apis/${API_VERSION}`;
}

/** `vm,vol` or `all` → kinds (deduplicated, in the given order). */
export function resolveKinds(spec: string): KindInfo[] {
  const out: KindInfo[] = [];
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const kinds = p.toLowerCase() === 'all' ? KINDS.filter((k) => k.categories.includes('all')) : [resolveKindOrThrow(p)];
    for (const k of kinds) if (!out.includes(k)) out.push(k);
  }
  if (out.length === 0) throw new UsageError(`the server doesn't have a resource type "${spec}"`);
  return out;
}

/** `virtualmachine.stratuslab.eu`, the prefix of kubectl's messages (`event` for core Events). */
export function qualifiedSingular(k: KindInfo): string {
  return k === EVENT_KIND ? k.singular : `${k.singular}.${GROUP}`;
}

/** `virtualmachines.stratuslab.eu` (`events` for core Events) */
export function qualifiedPlural(k: KindInfo): string {
  return k === EVENT_KIND ? k.plural : `${k.plural}.${GROUP}`;
}

/** `virtualmachine.stratuslab.eu/web-1` (what `-o name` and apply print). */
export function objectRef(k: KindInfo, name: string): string {
  return `${qualifiedSingular(k)}/${name}`;
}

export interface PathParts {
  /** ignored for cluster-scoped kinds; undefined for a namespaced kind means all namespaces */
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** The REST path of a collection or object of `kind`. */
export function resourcePath(kind: KindInfo, parts: PathParts = {}): string {
  let p = apiPrefix(kind);
  if (kind.namespaced && parts.namespace !== undefined) p += `/namespaces/${encodeURIComponent(parts.namespace)}`;
  p += `/${kind.plural}`;
  if (parts.name !== undefined) {
    if (kind.namespaced && parts.namespace === undefined) {
      throw new UsageError('a resource cannot be retrieved by name across all namespaces');
    }
    p += `/${encodeURIComponent(parts.name)}`;
    if (parts.subresource) p += `/${parts.subresource}`;
  }
  return p;
}

/** What the positional arguments of get/delete/describe/wait designate. */
export type Targets =
  /** `KIND[,KIND] [NAME...]` */
  | { form: 'kind'; kinds: KindInfo[]; names: string[] }
  /** `KIND/NAME [KIND/NAME...]` */
  | { form: 'refs'; refs: Array<{ kind: KindInfo; name: string }> };

export function parseTargets(args: string[]): Targets {
  if (args.length === 0) {
    throw new UsageError(`you must specify the type of resource, one of: ${KINDS.map((k) => k.plural).join(', ')}`);
  }
  if (args[0].includes('/')) {
    const refs = args.map((a) => {
      const i = a.indexOf('/');
      if (i < 0) {
        throw new UsageError('there is no need to specify a resource type as a separate argument when passing arguments in resource/name form');
      }
      const name = a.slice(i + 1);
      if (!name) throw new UsageError(`arguments in resource/name form must have a single resource and name: "${a}"`);
      return { kind: resolveKindOrThrow(a.slice(0, i)), name };
    });
    return { form: 'refs', refs };
  }
  const names = args.slice(1);
  if (names.some((n) => n.includes('/'))) {
    throw new UsageError('there is no need to specify a resource type as a separate argument when passing arguments in resource/name form');
  }
  return { form: 'kind', kinds: resolveKinds(args[0]), names };
}

/** Flattens named targets into (kind, name) pairs; an error when a kind list has no names. */
export function namedRefs(t: Targets): Array<{ kind: KindInfo; name: string }> {
  if (t.form === 'refs') return t.refs;
  if (t.names.length > 0 && t.kinds.length > 1) {
    // kubectl: `get vm,vol x` means x of each kind
    return t.kinds.flatMap((kind) => t.names.map((name) => ({ kind, name })));
  }
  return t.names.map((name) => ({ kind: t.kinds[0], name }));
}

export function metadataOf(obj: unknown): Record<string, unknown> {
  const m = obj && typeof obj === 'object' ? (obj as Record<string, unknown>).metadata : undefined;
  return m && typeof m === 'object' ? (m as Record<string, unknown>) : {};
}

export function nameOf(obj: unknown): string | undefined {
  const n = metadataOf(obj).name;
  return typeof n === 'string' ? n : undefined;
}

export function namespaceOf(obj: unknown): string | undefined {
  const n = metadataOf(obj).namespace;
  return typeof n === 'string' ? n : undefined;
}

export function resourceVersionOf(obj: unknown): string | undefined {
  const n = metadataOf(obj).resourceVersion;
  return typeof n === 'string' ? n : typeof n === 'number' ? String(n) : undefined;
}

export function uidOf(obj: unknown): string | undefined {
  const n = metadataOf(obj).uid;
  return typeof n === 'string' ? n : undefined;
}
