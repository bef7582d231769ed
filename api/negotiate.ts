// Request bodies in (JSON or YAML, size-limited) and responses out (JSON or YAML by Accept).

import type { Context } from 'koa';
import getRawBody from 'raw-body';
import YAML from 'yaml';
import { CORE_SCHEMA, EVENT_ID, constructFromEvents, parseEvents } from 'js-yaml';
import { BadRequestError, RequestEntityTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { yamlNestingExceeds } from './yaml-depth';
import { measureExpansion } from './yaml-expansion';

export const JSON_TYPES = ['application/json'];
export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
export const PATCH_TYPES = ['application/merge-patch+json', 'application/json-patch+json', 'application/apply-patch+yaml'];

export interface BodyLimits {
  /** bytes; default 3 MiB as Kubernetes */
  maxBytes: number;
  /** deepest nesting of objects and arrays; default 64 */
  maxDepth: number;
  /** YAML aliases allowed in one document; default 32 */
  maxAliases: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 3 * 1024 * 1024, maxDepth: 64, maxAliases: 32 };

export function mediaType(ctx: Context): string {
  return (ctx.get('Content-Type') || 'application/json').split(';')[0].trim().toLowerCase();
}

function depthOf(v: unknown, limit: number, d = 0): number {
  if (d > limit) return d;
  if (v && typeof v === 'object') {
    let max = d;
    for (const x of Object.values(v as Record<string, unknown>)) max = Math.max(max, depthOf(x, limit, d + 1));
    return max;
  }
  return d;
}

/** Reads and parses the request body as JSON or YAML according to its Content-Type. */
export async function readBody(ctx: Context, allowed: string[], limits: BodyLimits): Promise<unknown> {
  const type = mediaType(ctx);
  if (!allowed.includes(type)) {
    throw new UnsupportedMediaTypeError(`the body of the request was in an unknown format - accepted media types include: ${allowed.join(', ')}`);
  }
  let text: string;
  try {
    text = await getRawBody(ctx.req, { limit: limits.maxBytes, length: ctx.get('Content-Length') || undefined, encoding: 'utf8' });
  } catch (err) {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large' || e.status === 413) throw new RequestEntityTooLargeError(`Request entity too large: limit is ${limits.maxBytes}`);
    throw new BadRequestError(`could not read the request body: ${(err as Error).message}`);
  }
  if (text.trim() === '') throw new BadRequestError('the request body is empty');
  let value: unknown;
  if (type.endsWith('json') && type !== 'application/apply-patch+yaml') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BadRequestError(`the request body is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    value = parseYamlDocument(text, limits);
  }
  if (depthOf(value, limits.maxDepth) > limits.maxDepth) throw new BadRequestError(`the request body is nested deeper than ${limits.maxDepth} levels`);
  return value;
}

/**
 * Parses exactly one YAML (or JSON) document, with what it may cost bounded: nesting (before
 * parsing), aliases (at most `maxAliases`, none pointing into themselves) and, when it has
 * aliases, the size of the document once they are expanded (at most `maxBytes`, the body limit:
 * otherwise a 1 MB anchor aliased 19 times makes a 20 MB object of a 1 MB body). js-yaml builds
 * values straight from parser events: a 3 MB body costs a fraction of the memory and time of an
 * AST (the `yaml` library's Document for 3 MB of small keys took 12 s and 880 MB of RSS).
 */
export function parseYamlDocument(text: string, limits: Pick<BodyLimits, 'maxAliases'> & Partial<Pick<BodyLimits, 'maxDepth' | 'maxBytes'>>): unknown {
  if (limits.maxDepth !== undefined && yamlNestingExceeds(text, limits.maxDepth)) {
    throw new BadRequestError(`the request body is nested deeper than ${limits.maxDepth} levels`);
  }
  let docs: unknown[];
  let aliased = false;
  try {
    // YAML 1.2 core schema as before (no timestamps, no merge keys), duplicate keys refused.
    const events = parseEvents(text, { maxDepth: (limits.maxDepth ?? 100) + 1 });
    aliased = events.some((e) => e.type === EVENT_ID.ALIAS);
    docs = constructFromEvents(events, { source: text, schema: CORE_SCHEMA, maxAliases: limits.maxAliases });
  } catch (err) {
    throw new BadRequestError(`the request body is not valid YAML: ${String((err as Error).message).split('\n')[0]}`);
  }
  const real = docs.filter((d) => d !== null && d !== undefined);
  if (real.length !== 1) throw new BadRequestError(`the request body must hold exactly one YAML document, found ${real.length}`);
  const value = real[0];
  if (aliased) {
    const limit = limits.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const expanded = measureExpansion(value, limit);
    if (expanded.cycle) throw new BadRequestError('the request body is not valid YAML: an alias refers to a node that contains it');
    if (expanded.bytes > limit) {
      throw new RequestEntityTooLargeError(`Request entity too large: the request body is larger than the limit of ${limit} bytes once its YAML aliases are expanded`);
    }
  }
  return value;
}

/** Whether the client prefers YAML over JSON. */
export function wantsYaml(ctx: Context): boolean {
  const accept = ctx.get('Accept');
  if (!accept) return false;
  const first = accept.split(',')[0].split(';')[0].trim().toLowerCase();
  return YAML_TYPES.includes(first);
}

/** Sends an object as JSON, or YAML when the client asked for it. */
export function sendObject(ctx: Context, obj: unknown): void {
  if (wantsYaml(ctx)) {
    ctx.type = 'application/yaml';
    ctx.body = YAML.stringify(obj);
  } else {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(obj);
  }
}
