// fast-check arbitraries of hostile and careless requests (test/api/fuzz.test.ts): DeleteOptions
// that are surely malformed, JSON and merge patches, list and watch queries, broken manifests.

import fc from 'fast-check';

/** A JSON value of bounded size (fast-check's, kept small so that runs stay fast). */
export const jsonValue = (): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth: 3 });

/** The JSON type of a value as a schema names it. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** A JSON value whose type is none of `types` (`number` excludes integers too). */
function notOfType(...types: string[]): fc.Arbitrary<unknown> {
  return jsonValue().filter((v) => !types.includes(jsonType(v)) && !(types.includes('number') && jsonType(v) === 'integer'));
}

const KNOWN_DELETE_FIELDS = ['apiVersion', 'kind', 'gracePeriodSeconds', 'preconditions', 'orphanDependents', 'propagationPolicy', 'dryRun', 'ignoreStoreReadErrorWithClusterBreakingPotential'];

/** DeleteOptions fields that are each well formed (combined with one corruption below). */
const validDeleteFields = fc.record({
  apiVersion: fc.constantFrom('meta.k8s.io/v1', 'v1', ''),
  kind: fc.constantFrom('DeleteOptions', ''),
  gracePeriodSeconds: fc.integer(),
  dryRun: fc.constantFrom(['All'], [], null),
}, { requiredKeys: [] });

/**
 * A DELETE body that Kubernetes' API server refuses (or, for a precondition, that matches no
 * object): valid fields plus at least one corruption. Must never delete anything.
 */
export const malformedDeleteOptions: fc.Arbitrary<unknown> = fc.oneof(
  // not an object at all (JSON null is an empty DeleteOptions: not here)
  fc.oneof(fc.array(jsonValue(), { maxLength: 3 }), fc.string(), fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  fc.tuple(validDeleteFields, fc.oneof(
    // a known field of the wrong type
    notOfType('integer', 'null').map((v) => ({ gracePeriodSeconds: v })),
    notOfType('object', 'null').map((v) => ({ preconditions: v })),
    notOfType('boolean', 'null').map((v) => ({ orphanDependents: v })),
    notOfType('string', 'null').map((v) => ({ propagationPolicy: v })),
    notOfType('array', 'null').map((v) => ({ dryRun: v })),
    fc.array(notOfType('string'), { minLength: 1, maxLength: 3 }).map((v) => ({ dryRun: v })),
    notOfType('string', 'null').map((v) => ({ kind: v })),
    notOfType('string', 'null').map((v) => ({ apiVersion: v })),
    // values Kubernetes refuses
    fc.string({ minLength: 1 }).filter((s) => !['Orphan', 'Background', 'Foreground'].includes(s)).map((v) => ({ propagationPolicy: v })),
    fc.array(fc.string(), { minLength: 1, maxLength: 3 }).filter((a) => a.some((s) => s !== 'All')).map((v) => ({ dryRun: v })),
    fc.string({ minLength: 1 }).filter((s) => s !== 'DeleteOptions').map((v) => ({ kind: v })),
    fc.string({ minLength: 1 }).filter((s) => !['v1', 'meta.k8s.io/v1', 'meta.k8s.io/v1beta1'].includes(s)).map((v) => ({ apiVersion: v })),
    fc.constantFrom('Orphan', 'Background', 'Foreground').map((p) => ({ propagationPolicy: p, orphanDependents: true })),
    // unknown fields, at the top or in preconditions; preconditions that match no object
    fc.tuple(fc.string({ minLength: 1 }).filter((k) => !KNOWN_DELETE_FIELDS.includes(k) && k !== '__proto__'), jsonValue()).map(([k, v]) => ({ [k]: v })),
    fc.tuple(fc.string({ minLength: 1 }).filter((k) => k !== 'uid' && k !== 'resourceVersion' && k !== '__proto__'), jsonValue()).map(([k, v]) => ({ preconditions: { [k]: v } })),
    notOfType('string', 'null').map((v) => ({ preconditions: { uid: v } })),
    fc.string().map((uid) => ({ preconditions: { uid: `fuzz-${uid}` } })),
    fc.string().map((rv) => ({ preconditions: { resourceVersion: `fuzz-${rv}` } })),
  )).map(([valid, bad]) => ({ ...valid, ...bad })),
);

/** A DELETE query that is refused: a malformed or unsupported DeleteOptions parameter. */
export const malformedDeleteQuery: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1 }).filter((s) => !/^[+-]?[0-9]{1,18}$/.test(s)).map((v) => `gracePeriodSeconds=${encodeURIComponent(v)}`),
  fc.string({ minLength: 1 }).filter((s) => !['Orphan', 'Background', 'Foreground'].includes(s)).map((v) => `propagationPolicy=${encodeURIComponent(v)}`),
  fc.string({ minLength: 1 }).filter((s) => !/^(true|false|1|0)$/i.test(s)).map((v) => `orphanDependents=${encodeURIComponent(v)}`),
  fc.string({ minLength: 1 }).filter((s) => s !== 'All').map((v) => `dryRun=${encodeURIComponent(v)}`),
);

const SEGMENTS = ['spec', 'metadata', 'status', 'labels', 'annotations', 'name', 'namespace', 'kind', 'apiVersion', 'cpu', 'memory', 'disks',
  'finalizers', 'managedFields', 'resourceVersion', '0', '1', '-', '__proto__', 'constructor', 'prototype', 'x', ''];

/** A JSON pointer, or something close to one: known segments, prototype names, escapes, junk. */
export const pointer: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ maxLength: 4 })), { maxLength: 4 }).map((segs) => segs.map((s) => `/${s}`).join('')),
  fc.constantFrom('', '/', 'spec', '~', '/~2', '/a~1b', '/metadata/labels/a~0b', '//', '/__proto__/polluted', '/constructor/prototype/x', '/spec/disks/-'),
  fc.string({ maxLength: 8 }),
);

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'];

/** One JSON patch operation: mostly of the RFC's shape, with wrong types and extra keys at times. */
export const patchOperation: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom(...OPS), path: pointer, from: pointer, value: jsonValue() }, { requiredKeys: ['op'] }) },
  // a move into the moved location's own child
  { weight: 2, arbitrary: fc.tuple(pointer, fc.constantFrom('x', '0', '-', 'a/b')).map(([from, child]) => ({ op: 'move', from, path: `${from}/${child}` })) },
  { weight: 1, arbitrary: fc.record({ op: fc.oneof(fc.string(), jsonValue()), path: fc.oneof(pointer, jsonValue()), from: jsonValue(), value: jsonValue() }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.tuple(fc.record({ op: fc.constantFrom(...OPS), path: pointer, value: jsonValue() }), fc.string({ minLength: 1 }), jsonValue()).map(([op, k, v]) => ({ ...op, [k]: v })) },
  { weight: 1, arbitrary: jsonValue() },
);

/** A JSON patch body: mostly a list of operations, at times not a list at all. */
export const jsonPatch: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.array(patchOperation, { maxLength: 5 }) },
  { weight: 1, arbitrary: jsonValue() },
);

/** An operation that cannot succeed on any object the server stores (their uids are UUIDs). */
export const FAILING_TEST = { op: 'test', path: '/metadata/uid', value: 'fuzz-never-a-uid' };

/** A merge patch: an object changing known places of an object into anything, or not an object. */
export const mergePatch: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(fc.constantFrom('spec', 'metadata', 'status', 'kind', 'apiVersion', 'x', '__proto__'), fc.oneof(jsonValue(), fc.dictionary(fc.constantFrom(...SEGMENTS), jsonValue(), { maxKeys: 3 })), { maxKeys: 3 }) },
  { weight: 1, arbitrary: jsonValue() },
);

const LIST_PARAMETERS = ['labelSelector', 'fieldSelector', 'watch', 'allowWatchBookmarks', 'sendInitialEvents', 'resourceVersion', 'resourceVersionMatch',
  'timeoutSeconds', 'limit', 'continue', 'pretty', 'includeObject'];
const LIST_VALUES = ['', 'true', 'false', '1', '0', '-1', '1001', '1e3', 'abc', '99999999999999999999', 'NotOlderThan', 'Exact', 'a=b', 'a in (b', 'a notin ()',
  '!!', 'metadata.name=x', 'status.host', '==', 'eyJ2IjoxfQ', 'eyJ2IjoiczEiLCJucyI6InoiLCJydiI6IngifQ', '00000000-0000-1000-8080-808080808080',
  'ffffffff-ffff-1fff-bfff-ffffffffffff', 'garbage', '%00', 'x'.repeat(400)];

/** A list or watch query string: known parameters with odd values, repeated ones, unknown ones. */
export const listQuery: fc.Arbitrary<string> = fc.array(
  fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...LIST_PARAMETERS) }, { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) }),
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...LIST_VALUES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })),
  { maxLength: 5 },
).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));

/** `manifest` broken at random places: values replaced by anything, keys removed, unknown keys added. */
export function brokenManifest(manifest: Record<string, unknown>): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, at: string[]) => {
    paths.push(at);
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, [...at, k]);
  };
  walk(manifest, []);
  const edit = fc.tuple(fc.constantFrom(...paths), fc.oneof(
    jsonValue().map((v) => ({ set: v })),
    fc.constant({ remove: true as const }),
    fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), jsonValue()).map(([key, v]) => ({ add: key, v })),
  ));
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    let out: any = structuredClone(manifest);
    for (const [path, e] of edits) {
      if (path.length === 0) {
        if ('set' in e) out = e.set;
        continue;
      }
      let parent: any = out;
      for (const k of path.slice(0, -1)) parent = parent && typeof parent === 'object' ? parent[k] : undefined;
      if (!parent || typeof parent !== 'object') continue;
      const last = path[path.length - 1];
      if ('set' in e) parent[last] = e.set;
      else if ('remove' in e) delete parent[last];
      else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) parent[last][e.add] = e.v;
    }
    return out;
  });
}
