// Helpers shared by the commands: flag parsers, turning a manifest into a REST target, and
// comparing objects while ignoring what the server changes on its own.

import { InvalidArgumentError } from 'commander';
import { API_VERSION, resolveKind, type KindInfo } from '../../schemas/kinds';
import { CliError } from '../errors/cli-error';
import { UsageError } from '../errors/usage-error';
import type { Manifest } from '../manifests';
import { parseDuration } from '../duration';

/** Collects a repeatable option (`-f a -f b`, or `-f a,b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter((v) => v !== '')];
}

/** Boolean flags that kubectl users also write as `--flag=true|false`. */
export const BOOLEAN_FLAGS = [
  'wait', 'ignore-not-found', 'force-conflicts', 'output-watch-events', 'watch', 'watch-only',
  'all-namespaces', 'all', 'recursive', 'client', 'verbose', 'follow',
];

/** Flags whose default is true: `--flag=false` becomes `--no-flag` (others just drop it). */
const DEFAULT_TRUE_FLAGS = ['wait'];

/**
 * Rewrites kubectl-style `--flag=true|false` of boolean flags into what commander understands:
 * `--flag`, `--no-flag`, or nothing (false is the default). Arguments after `--` are left alone.
 */
export function normalizeBooleanFlags(args: string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    if (rest || a === '--') {
      rest = true;
      out.push(a);
      continue;
    }
    const m = /^--([a-z-]+)=(.*)$/i.exec(a);
    if (!m || !BOOLEAN_FLAGS.includes(m[1])) {
      out.push(a);
      continue;
    }
    const v = m[2].trim().toLowerCase();
    if (['true', '1', 't', 'yes'].includes(v)) out.push(`--${m[1]}`);
    else if (['false', '0', 'f', 'no'].includes(v)) {
      if (DEFAULT_TRUE_FLAGS.includes(m[1])) out.push(`--no-${m[1]}`);
    } else {
      throw new UsageError(`invalid argument "${m[2]}" for "--${m[1]}" flag: use true or false`);
    }
  }
  return out;
}

/** A commander argParser for durations. */
export function durationArg(flag: string): (value: string) => number {
  return (value: string) => {
    try {
      return parseDuration(value, flag);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export interface ObjectTarget {
  kind: KindInfo;
  name: string;
  /** undefined for cluster-scoped kinds */
  namespace?: string;
  /** the manifest, with metadata.namespace set (namespaced) or removed (cluster-scoped) */
  body: Record<string, unknown>;
  /** `file.yaml (document 2)`, for messages */
  origin: string;
}

function origin(m: Manifest): string {
  return `${m.source === '-' ? 'stdin' : m.source}`;
}

/**
 * Resolves a manifest's kind, name and namespace (the manifest's own namespace, else the
 * default one: -n, else the config's). Throws a CliError naming the file when it cannot be applied.
 */
export function manifestTarget(m: Manifest, defaultNamespace: string): ObjectTarget {
  const obj = m.object;
  const md = (obj.metadata ?? {}) as Record<string, unknown>;
  const name = typeof md.name === 'string' ? md.name : '';
  const ns = typeof md.namespace === 'string' && md.namespace !== '' ? md.namespace : undefined;
  const kindName = String(obj.kind);
  const kind = obj.apiVersion === API_VERSION ? resolveKind(kindName) : undefined;
  if (!kind || kind.kind !== kindName) {
    throw new CliError(
      `resource mapping not found for name: "${name}" namespace: "${ns ?? ''}" from "${origin(m)}": no matches for kind "${kindName}" in version "${String(obj.apiVersion)}"`,
    );
  }
  if (!name) {
    throw new CliError(`error validating "${origin(m)}" (document ${m.document}): ${kind.kind} has no metadata.name`);
  }
  const body: Record<string, unknown> = { ...obj, metadata: { ...md } };
  let namespace: string | undefined;
  if (kind.namespaced) {
    namespace = ns ?? defaultNamespace;
    (body.metadata as Record<string, unknown>).namespace = namespace;
  } else {
    delete (body.metadata as Record<string, unknown>).namespace;
  }
  return { kind, name, namespace, body, origin: `${origin(m)} (document ${m.document})` };
}

const VOLATILE_METADATA = ['resourceVersion', 'generation', 'managedFields', 'creationTimestamp', 'selfLink'];

function stripTimes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripTimes);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (/(Time|Timestamp)$/.test(k) && (typeof val === 'string' || val === null)) continue;
      out[k] = stripTimes(val);
    }
    return out;
  }
  return v;
}

/**
 * A copy without what changes on its own: metadata.resourceVersion, generation, managedFields,
 * creationTimestamp, and timestamps (`...Time`, `...Timestamp` strings) inside status.
 */
export function withoutVolatileFields(obj: Record<string, unknown> | undefined, opts: { dropStatus?: boolean } = {}): Record<string, unknown> | undefined {
  if (!obj) return undefined;
  const out: Record<string, unknown> = { ...obj };
  if (out.metadata && typeof out.metadata === 'object') {
    const md: Record<string, unknown> = { ...(out.metadata as Record<string, unknown>) };
    for (const k of VOLATILE_METADATA) delete md[k];
    out.metadata = md;
  }
  if (opts.dropStatus) delete out.status;
  else if (out.status !== undefined) out.status = stripTimes(out.status);
  return out;
}
