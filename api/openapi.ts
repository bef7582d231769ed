// OpenAPI documents generated from schemas/*.json: v3 (kubectl explain, apply's field validation
// check) and Swagger 2.0 (JSON only). Pure builders; the lead serves them, computed once at start-up.

import { createHash } from 'node:crypto';
import { GROUP, KINDS, VERSION, type KindInfo } from '../schemas/kinds';

/** Returns the fully dereferenced JSON Schema of a whole object of the kind (e.g. Validator.schemaOf). */
export type SchemaOf = (kind: string) => object;

type Json = Record<string, unknown>;
type Dialect = 'v3' | 'v2';

/** The key of our group version in the OpenAPI v3 root (and the document's path after /openapi/v3/). */
export const OPENAPI_V3_GV_KEY = `apis/${GROUP}/${VERSION}`;
export const OPENAPI_V3_GV_PATH = `/openapi/v3/${OPENAPI_V3_GV_KEY}`;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const OBJECT_META = `${META}.ObjectMeta`;
export const LIST_META = `${META}.ListMeta`;
export const STATUS = `${META}.Status`;
export const DELETE_OPTIONS = `${META}.DeleteOptions`;
export const PATCH = `${META}.Patch`;
const STATUS_DETAILS = `${META}.StatusDetails`;
const STATUS_CAUSE = `${META}.StatusCause`;
const PRECONDITIONS = `${META}.Preconditions`;
const API_RESOURCE = `${META}.APIResource`;
const API_RESOURCE_LIST = `${META}.APIResourceList`;
export const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const QUANTITY_DESCRIPTION = 'A quantity: a non-negative integer, or a string such as 2Gi, 512Mi, 10G, 1.5Gi or 100m (binary suffixes Ki to Ei, decimal suffixes n to E).';

/** Schema names as Kubernetes names CRD schemas: the group reversed, e.g. eu.stratuslab.v1alpha1.VirtualMachine. */
export function schemaName(kind: string): string {
  return `${GROUP.split('.').reverse().join('.')}.${VERSION}.${kind}`;
}

/** The PATCH content types we accept. Never strategic-merge-patch: kubectl would then send one. */
export const PATCH_CONTENT_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
const BODY_CONTENT_TYPES = ['application/json', 'application/yaml'];
const RESPONSE_CONTENT_TYPES = ['application/json', 'application/yaml'];
const LIST_RESPONSE_CONTENT_TYPES = ['application/json', 'application/yaml', 'application/json;stream=watch'];

function gvk(kind: string): { group: string; version: string; kind: string } {
  return { group: GROUP, version: VERSION, kind };
}

function refTo(dialect: Dialect, name: string): string {
  return dialect === 'v3' ? `#/components/schemas/${name}` : `#/definitions/${name}`;
}

/** A property that refers to a named schema, keeping its own description (allOf in v3, where $ref siblings are ignored). */
function refProp(dialect: Dialect, name: string, description?: string): Json {
  const out: Json = {};
  if (description) out.description = description;
  if (dialect === 'v3') out.allOf = [{ $ref: refTo(dialect, name) }];
  else out.$ref = refTo(dialect, name);
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft-07, dereferenced) -> structural OpenAPI schema

const COPIED = [
  'format', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties',
] as const;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Folds `allOf` members that carry a shape (type, properties, items: what a dereferencer leaves
 * when it wraps a $ref) into the schema; members that only constrain (if/then, not) are dropped.
 */
function foldAllOf(s: Json): Json {
  if (!Array.isArray(s.allOf)) return s;
  const out: Json = { ...s };
  delete out.allOf;
  for (const m of s.allOf) {
    if (!isObject(m) || 'if' in m || 'not' in m) continue;
    if (!('type' in m) && !('properties' in m) && !('items' in m) && !('enum' in m) && !('const' in m)) continue;
    const folded = foldAllOf(m);
    for (const [k, v] of Object.entries(folded)) {
      if (k === 'properties' && isObject(out.properties) && isObject(v)) out.properties = { ...v, ...out.properties };
      else if (!(k in out)) out[k] = v;
    }
  }
  return out;
}

function convertType(s: Json, out: Json, dialect: Dialect): void {
  let types: string[] = Array.isArray(s.type) ? s.type.filter((t): t is string => typeof t === 'string')
    : typeof s.type === 'string' ? [s.type] : [];
  const nullable = types.includes('null');
  types = types.filter((t) => t !== 'null');
  const intOrString = s['x-kubernetes-int-or-string'] === true
    || (types.length === 2 && types.includes('string') && types.includes('integer'));
  if (intOrString) {
    if (dialect === 'v3') {
      out['x-kubernetes-int-or-string'] = true;
      out.anyOf = [{ type: 'integer' }, { type: 'string' }];
    } else {
      out.type = 'string';
      out.format = 'int-or-string';
      out['x-kubernetes-int-or-string'] = true;
    }
  } else if (types.length === 1) {
    out.type = types[0];
  }
  // several other types: no single OpenAPI type; leave it out
  if (nullable) out[dialect === 'v3' ? 'nullable' : 'x-nullable'] = true;
}

/**
 * Converts one dereferenced JSON Schema node into a structural OpenAPI schema: keeps description,
 * type, format, properties, required, items, additionalProperties (schemas only), enum, default,
 * value validations and x-kubernetes-* extensions; turns const into a one-value enum and numeric
 * exclusive bounds into OpenAPI's boolean form; drops $schema, $id, definitions, title, if/then/else,
 * not, oneOf/anyOf, propertyNames, dependencies and x-stratus-* annotations. With `shared`, a
 * Quantity (common.json's int-or-string) becomes a reference to one shared schema added there.
 */
export function toOpenApiSchema(schema: unknown, dialect: Dialect = 'v3', shared?: Record<string, Json>, seen: Set<object> = new Set()): Json {
  if (!isObject(schema)) return {};
  if (seen.has(schema)) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  seen.add(schema);
  try {
    const s = foldAllOf(schema);
    if (shared && s.title === 'Quantity' && s['x-kubernetes-int-or-string'] === true) {
      // one shared Quantity schema, as Kubernetes publishes it: kubectl explain then says <Quantity>, not <Object>
      if (!shared[QUANTITY]) {
        const { description: _d, title: _t, ...shape } = s;
        shared[QUANTITY] = { description: QUANTITY_DESCRIPTION, ...toOpenApiSchema(shape, dialect) };
      }
      return refProp(dialect, QUANTITY, typeof s.description === 'string' ? s.description : undefined);
    }
    const out: Json = {};
    if (typeof s.description === 'string') out.description = s.description;
    convertType(s, out, dialect);
    for (const k of COPIED) {
      if (s[k] === undefined || k in out) continue;
      if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof s[k] === 'number') {
        out[k === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = s[k];
        out[k] = true;
      } else {
        out[k] = s[k];
      }
    }
    if (Array.isArray(s.enum)) out.enum = s.enum;
    else if (s.const !== undefined) out.enum = [s.const];
    if (s.default !== undefined) out.default = s.default;
    if (isObject(s.properties)) {
      const props: Json = {};
      for (const [name, p] of Object.entries(s.properties)) props[name] = toOpenApiSchema(p, dialect, shared, seen);
      out.properties = props;
    }
    if (Array.isArray(s.required) && s.required.length > 0) out.required = s.required;
    if (isObject(s.items)) out.items = toOpenApiSchema(s.items, dialect, shared, seen);
    if (isObject(s.additionalProperties)) out.additionalProperties = toOpenApiSchema(s.additionalProperties, dialect, shared, seen);
    for (const [k, v] of Object.entries(s)) {
      if (k.startsWith('x-kubernetes-') && !(k in out) && k !== 'x-kubernetes-int-or-string') out[k] = v;
    }
    return out;
  } finally {
    seen.delete(schema);
  }
}

const OBJECT_META_DESCRIPTION = 'Standard object metadata: name, namespace (the project), labels, annotations and the fields the server sets.';

/** The schema of a whole object of the kind, with metadata referring to ObjectMeta. */
function kindSchema(k: KindInfo, schemaOf: SchemaOf, dialect: Dialect, shared: Record<string, Json>): Json {
  const source = schemaOf(k.kind) as Json;
  const out = toOpenApiSchema(source, dialect, shared);
  const props = isObject(out.properties) ? out.properties : (out.properties = {});
  const meta = isObject(source.properties) && isObject(source.properties.metadata) ? foldAllOf(source.properties.metadata) : {};
  props.metadata = refProp(dialect, OBJECT_META, typeof meta.description === 'string' ? meta.description : OBJECT_META_DESCRIPTION);
  out['x-kubernetes-group-version-kind'] = [gvk(k.kind)];
  return out;
}

function listSchema(k: KindInfo, dialect: Dialect): Json {
  return {
    description: `${k.kind}List is a list of ${k.kind}.`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { description: `The API group and version: ${GROUP}/${VERSION}.`, type: 'string' },
      items: { description: `List of ${k.plural}.`, type: 'array', items: { $ref: refTo(dialect, schemaName(k.kind)) } },
      kind: { description: `The kind: ${k.kind}List.`, type: 'string' },
      metadata: refProp(dialect, LIST_META, 'Standard list metadata: resourceVersion (a watch cursor) and continue.'),
    },
    'x-kubernetes-group-version-kind': [gvk(`${k.kind}List`)],
  };
}

/** The Kubernetes meta types our paths refer to (Kubernetes' shapes, not ours: they are not in schemas/). */
function metaSchemas(dialect: Dialect, objectMeta: Json): Record<string, Json> {
  const str = (description: string): Json => ({ description, type: 'string' });
  const int = (description: string): Json => ({ description, type: 'integer', format: 'int64' });
  const strList = (description: string): Json => ({ description, type: 'array', items: { type: 'string', default: '' } });
  return {
    [OBJECT_META]: objectMeta,
    [LIST_META]: {
      description: 'ListMeta describes metadata that synthetic resources must have, including lists.',
      type: 'object',
      properties: {
        continue: str('Set when the list was truncated by limit: pass it back as the continue parameter to get the next page.'),
        remainingItemCount: int('The number of items left after this page, when known.'),
        resourceVersion: str('The version of the list, usable as a watch cursor.'),
        selfLink: str('Deprecated; never set.'),
      },
    },
    [STATUS]: {
      description: 'Status is the result of an operation that does not return an object, and the body of every error.',
      type: 'object',
      properties: {
        apiVersion: str('v1.'),
        code: { description: 'The HTTP status code.', type: 'integer', format: 'int32' },
        details: refProp(dialect, STATUS_DETAILS, 'Extended data about the reason.'),
        kind: str('Status.'),
        message: str('A human-readable description of the status of this operation.'),
        metadata: refProp(dialect, LIST_META, 'Standard list metadata.'),
        reason: str('A machine-readable reason, e.g. NotFound, AlreadyExists, Conflict, Invalid.'),
        status: str('Success or Failure.'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
    },
    [STATUS_DETAILS]: {
      description: 'StatusDetails names the object concerned by a Status and the causes of an error.',
      type: 'object',
      properties: {
        causes: { description: 'The individual causes, e.g. one per invalid field.', type: 'array', items: { $ref: refTo(dialect, STATUS_CAUSE) } },
        group: str('The group of the object.'),
        kind: str('The kind of the object.'),
        name: str('The name of the object.'),
        retryAfterSeconds: { description: 'Seconds to wait before retrying.', type: 'integer', format: 'int32' },
        uid: str('The UID of the object.'),
      },
    },
    [STATUS_CAUSE]: {
      description: 'StatusCause is one cause of an error, e.g. an invalid field.',
      type: 'object',
      properties: {
        field: str('The field concerned, e.g. spec.cpu.'),
        message: str('A human-readable description of the cause.'),
        reason: str('A machine-readable reason, e.g. FieldValueInvalid.'),
      },
    },
    [DELETE_OPTIONS]: {
      description: 'DeleteOptions may be provided when deleting an object.',
      type: 'object',
      properties: {
        apiVersion: str('The API version of this object.'),
        dryRun: strList('When present (All), the deletion is validated but not persisted.'),
        gracePeriodSeconds: int('Seconds before the object should be deleted.'),
        kind: str('DeleteOptions.'),
        orphanDependents: { description: 'Deprecated: use propagationPolicy.', type: 'boolean' },
        preconditions: refProp(dialect, PRECONDITIONS, 'Must be fulfilled before the deletion is carried out.'),
        propagationPolicy: str('Whether and how garbage collection is performed: Orphan, Background or Foreground.'),
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'DeleteOptions' }],
    },
    [PRECONDITIONS]: {
      description: 'Preconditions must be fulfilled before an operation is carried out.',
      type: 'object',
      properties: { resourceVersion: str('The expected resourceVersion.'), uid: str('The expected UID.') },
    },
    [PATCH]: {
      description: 'Patch gives a name and type to the body of a PATCH request: a JSON Patch, a JSON Merge Patch or an apply configuration.',
      type: 'object',
    },
    [API_RESOURCE]: {
      description: 'APIResource specifies the name of a resource and whether it is namespaced.',
      type: 'object',
      required: ['name', 'singularName', 'namespaced', 'kind', 'verbs'],
      properties: {
        categories: strList('The groups of resources this one belongs to, e.g. all.'),
        kind: str('The kind of the objects.'),
        name: str('The plural name of the resource, or resource/subresource.'),
        namespaced: { description: 'Whether the resource lives in a namespace (project).', type: 'boolean' },
        shortNames: strList('Short names for the CLI.'),
        singularName: str('The singular name of the resource.'),
        verbs: strList('The verbs the resource supports.'),
      },
    },
    [API_RESOURCE_LIST]: {
      description: 'APIResourceList lists the resources of a group version.',
      type: 'object',
      required: ['groupVersion', 'resources'],
      properties: {
        apiVersion: str('v1.'),
        groupVersion: str('The group version, e.g. stratuslab.eu/v1alpha1.'),
        kind: str('APIResourceList.'),
        resources: { description: 'The resources.', type: 'array', items: { $ref: refTo(dialect, API_RESOURCE) } },
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'APIResourceList' }],
    },
  };
}

function objectMetaSchema(schemaOf: SchemaOf, dialect: Dialect, kinds: readonly KindInfo[], shared: Record<string, Json>): Json {
  const source = kinds.length > 0 ? (schemaOf(kinds[0].kind) as Json) : {};
  const meta = isObject(source.properties) ? source.properties.metadata : undefined;
  const out = toOpenApiSchema(meta, dialect, shared);
  return { ...out, description: OBJECT_META_DESCRIPTION, type: 'object' };
}

function componentSchemas(schemaOf: SchemaOf, dialect: Dialect, kinds: readonly KindInfo[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  const shared: Record<string, Json> = {};
  for (const k of kinds) {
    out[schemaName(k.kind)] = kindSchema(k, schemaOf, dialect, shared);
    out[schemaName(`${k.kind}List`)] = listSchema(k, dialect);
  }
  return { ...out, ...metaSchemas(dialect, objectMetaSchema(schemaOf, dialect, kinds, shared)), ...shared };
}

// ---------------------------------------------------------------------------------------------
// Paths

interface ParamSpec {
  name: string;
  in: 'query' | 'path';
  type: 'string' | 'boolean' | 'integer';
  description: string;
  required?: boolean;
}

interface OpSpec {
  method: 'get' | 'put' | 'post' | 'delete' | 'patch';
  action: 'get' | 'list' | 'post' | 'put' | 'patch' | 'delete' | 'deletecollection';
  operationId: string;
  description: string;
  params: ParamSpec[];
  /** request body: schema name and content types */
  body?: { schema: string; contentTypes: string[]; required: boolean };
  responses: Array<{ code: string; description: string; schema: string }>;
  produces: string[];
  kind?: string;
}

interface PathSpec {
  path: string;
  params: ParamSpec[];
  ops: OpSpec[];
}

const q = (name: string, type: ParamSpec['type'], description: string): ParamSpec => ({ name, in: 'query', type, description });

const P = {
  pretty: q('pretty', 'string', "If 'true', the output is pretty printed."),
  dryRun: q('dryRun', 'string', 'When present, the request is validated but not persisted. Valid values are: - All: all dry run stages are processed.'),
  fieldManager: q('fieldManager', 'string', 'A name for the actor making these changes (at most 128 characters). Required for apply patches (application/apply-patch+yaml), optional otherwise.'),
  fieldValidation: q('fieldValidation', 'string', 'How the server handles unknown or duplicate fields in the request body. Valid values are: - Ignore: they are dropped silently. - Warn: they are dropped with a Warning header for each. - Strict (the default): the request fails with a BadRequest error naming them.'),
  force: q('force', 'boolean', 'Force an apply patch: take over fields that other managers own. Must be unset for other patch types.'),
  allowWatchBookmarks: q('allowWatchBookmarks', 'boolean', 'Ask for BOOKMARK watch events carrying only a resourceVersion.'),
  continue: q('continue', 'string', 'The continue token from the previous page of a list.'),
  fieldSelector: q('fieldSelector', 'string', 'Select objects by field, e.g. metadata.name=x.'),
  labelSelector: q('labelSelector', 'string', 'Select objects by label, e.g. app=web,tier!=db.'),
  limit: q('limit', 'integer', 'The maximum number of objects to return; the list then carries a continue token.'),
  resourceVersion: q('resourceVersion', 'string', 'For watch: the version (a cursor) to watch from. For list: 0 allows a possibly older result.'),
  timeoutSeconds: q('timeoutSeconds', 'integer', 'Timeout of a list or watch call.'),
  watch: q('watch', 'boolean', 'Watch for changes and return them as a stream of events.'),
  gracePeriodSeconds: q('gracePeriodSeconds', 'integer', 'Seconds before the object should be deleted.'),
  propagationPolicy: q('propagationPolicy', 'string', 'Whether and how garbage collection is performed: Orphan, Background or Foreground.'),
  name: { name: 'name', in: 'path', type: 'string', required: true, description: 'name of the object' } as ParamSpec,
  namespace: { name: 'namespace', in: 'path', type: 'string', required: true, description: 'object name and auth scope, such as for teams and projects' } as ParamSpec,
};

const LIST_PARAMS = [P.allowWatchBookmarks, P.continue, P.fieldSelector, P.labelSelector, P.limit, P.resourceVersion, P.timeoutSeconds, P.watch];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];
const PATCH_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation, P.force];
const DELETE_PARAMS = [P.dryRun, P.gracePeriodSeconds, P.propagationPolicy];
const DELETE_COLLECTION_PARAMS = [P.continue, P.dryRun, P.fieldSelector, P.gracePeriodSeconds, P.labelSelector, P.limit, P.propagationPolicy, P.resourceVersion, P.timeoutSeconds];

const OK = 'OK';

function opIdBase(): string {
  const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
  return GROUP.split('.').map(cap).join('') + cap(VERSION);
}

function kindPaths(k: KindInfo): PathSpec[] {
  const id = opIdBase();
  const ns = k.namespaced ? 'Namespaced' : '';
  const base = `/apis/${GROUP}/${VERSION}`;
  const collection = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`;
  const scopeParams = k.namespaced ? [P.namespace] : [];
  const obj = schemaName(k.kind);
  const list = schemaName(`${k.kind}List`);
  const writeBody = { schema: obj, contentTypes: BODY_CONTENT_TYPES, required: true };
  const patchBody = { schema: PATCH, contentTypes: PATCH_CONTENT_TYPES, required: true };
  const deleteBody = { schema: DELETE_OPTIONS, contentTypes: BODY_CONTENT_TYPES, required: false };
  const one = (code: string, description: string, schema: string) => ({ code, description, schema });
  const read = [one('200', OK, obj)];
  const written = [one('200', OK, obj), one('201', 'Created', obj)];

  const paths: PathSpec[] = [
    {
      path: collection,
      params: [...scopeParams, P.pretty],
      ops: [
        { method: 'get', action: 'list', operationId: `list${id}${ns}${k.kind}`, description: `list or watch objects of kind ${k.kind}`, params: LIST_PARAMS, responses: [one('200', OK, list)], produces: LIST_RESPONSE_CONTENT_TYPES },
        { method: 'post', action: 'post', operationId: `create${id}${ns}${k.kind}`, description: `create a ${k.kind}`, params: WRITE_PARAMS, body: writeBody, responses: [...written, one('202', 'Accepted', obj)], produces: RESPONSE_CONTENT_TYPES },
        { method: 'delete', action: 'deletecollection', operationId: `deletecollection${id}${ns}${k.kind}`, description: `delete collection of ${k.kind}`, params: DELETE_COLLECTION_PARAMS, body: deleteBody, responses: [one('200', OK, STATUS)], produces: RESPONSE_CONTENT_TYPES },
      ],
    },
    {
      path: `${collection}/{name}`,
      params: [P.name, ...scopeParams, P.pretty],
      ops: [
        { method: 'get', action: 'get', operationId: `read${id}${ns}${k.kind}`, description: `read the specified ${k.kind}`, params: [], responses: read, produces: RESPONSE_CONTENT_TYPES },
        { method: 'put', action: 'put', operationId: `replace${id}${ns}${k.kind}`, description: `replace the specified ${k.kind}`, params: WRITE_PARAMS, body: writeBody, responses: written, produces: RESPONSE_CONTENT_TYPES },
        { method: 'delete', action: 'delete', operationId: `delete${id}${ns}${k.kind}`, description: `delete a ${k.kind}`, params: DELETE_PARAMS, body: deleteBody, responses: [one('200', OK, STATUS), one('202', 'Accepted', STATUS)], produces: RESPONSE_CONTENT_TYPES },
        { method: 'patch', action: 'patch', operationId: `patch${id}${ns}${k.kind}`, description: `partially update the specified ${k.kind}`, params: PATCH_PARAMS, body: patchBody, responses: written, produces: RESPONSE_CONTENT_TYPES },
      ],
    },
    {
      path: `${collection}/{name}/status`,
      params: [P.name, ...scopeParams, P.pretty],
      ops: [
        { method: 'get', action: 'get', operationId: `read${id}${ns}${k.kind}Status`, description: `read status of the specified ${k.kind}`, params: [], responses: read, produces: RESPONSE_CONTENT_TYPES },
        { method: 'put', action: 'put', operationId: `replace${id}${ns}${k.kind}Status`, description: `replace status of the specified ${k.kind}`, params: WRITE_PARAMS, body: writeBody, responses: written, produces: RESPONSE_CONTENT_TYPES },
        { method: 'patch', action: 'patch', operationId: `patch${id}${ns}${k.kind}Status`, description: `partially update status of the specified ${k.kind}`, params: PATCH_PARAMS, body: patchBody, responses: written, produces: RESPONSE_CONTENT_TYPES },
      ],
    },
  ];
  if (k.namespaced) {
    paths.push({
      path: `${base}/${k.plural}`,
      params: [P.pretty],
      ops: [{ method: 'get', action: 'list', operationId: `list${id}${k.kind}ForAllNamespaces`, description: `list or watch objects of kind ${k.kind} in all projects`, params: LIST_PARAMS, responses: [one('200', OK, list)], produces: LIST_RESPONSE_CONTENT_TYPES }],
    });
  }
  for (const p of paths) for (const op of p.ops) op.kind = k.kind;
  return paths;
}

function allPaths(kinds: readonly KindInfo[]): PathSpec[] {
  const resources: PathSpec = {
    path: `/apis/${GROUP}/${VERSION}/`,
    params: [],
    ops: [{ method: 'get', action: 'get', operationId: `get${opIdBase()}APIResources`, description: 'get available resources', params: [], responses: [{ code: '200', description: OK, schema: API_RESOURCE_LIST }], produces: ['application/json', 'application/yaml'] }],
  };
  return [resources, ...kinds.flatMap(kindPaths)];
}

const TAG = `${GROUP.split('.').map((s, i) => (i === 0 ? s : s.charAt(0).toUpperCase() + s.slice(1))).join('')}_${VERSION}`;

function renderParam(p: ParamSpec, dialect: Dialect): Json {
  const out: Json = { name: p.name, in: p.in, description: p.description };
  if (p.required) out.required = true;
  if (dialect === 'v3') out.schema = { type: p.type, uniqueItems: true };
  else Object.assign(out, { type: p.type, uniqueItems: true });
  return out;
}

function renderOp(op: OpSpec, dialect: Dialect): Json {
  const out: Json = { tags: [TAG], description: op.description, operationId: op.operationId };
  if (dialect === 'v2') {
    if (op.body) out.consumes = op.body.contentTypes;
    out.produces = op.produces;
    out.schemes = ['https'];
  }
  const params = op.params.map((p) => renderParam(p, dialect));
  if (dialect === 'v2' && op.body) params.unshift({ name: 'body', in: 'body', required: op.body.required, schema: { $ref: refTo(dialect, op.body.schema) } });
  if (params.length > 0) out.parameters = params;
  if (dialect === 'v3' && op.body) {
    const schema = { $ref: refTo(dialect, op.body.schema) };
    out.requestBody = { content: Object.fromEntries(op.body.contentTypes.map((t) => [t, { schema }])), required: op.body.required };
  }
  const responses: Json = {};
  for (const r of op.responses) {
    const schema = { $ref: refTo(dialect, r.schema) };
    responses[r.code] = dialect === 'v3'
      ? { description: r.description, content: Object.fromEntries(op.produces.map((t) => [t, { schema }])) }
      : { description: r.description, schema };
  }
  responses['401'] = { description: 'Unauthorized' };
  out.responses = responses;
  out['x-kubernetes-action'] = op.action;
  if (op.kind) out['x-kubernetes-group-version-kind'] = gvk(op.kind);
  return out;
}

function renderPaths(kinds: readonly KindInfo[], dialect: Dialect): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const p of allPaths(kinds)) {
    const item: Json = {};
    for (const op of p.ops) item[op.method] = renderOp(op, dialect);
    if (p.params.length > 0) item.parameters = p.params.map((x) => renderParam(x, dialect));
    out[p.path] = item;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Documents

const INFO = { title: 'Stratus', description: 'The Stratus API: virtual machines, volumes, images, hosts and projects.', version: VERSION };
const BEARER = { type: 'apiKey', in: 'header', name: 'authorization', description: 'Bearer token authentication' };

export interface OpenApiV3Root {
  paths: Record<string, { serverRelativeURL: string }>;
}

/** Body of GET /openapi/v3: where the group version's document is, with the hash that makes it cacheable. */
export function openApiV3Root(hash: string): OpenApiV3Root {
  return { paths: { [OPENAPI_V3_GV_KEY]: { serverRelativeURL: `${OPENAPI_V3_GV_PATH}?hash=${hash}` } } };
}

/** Body of GET /openapi/v3/apis/stratuslab.eu/v1alpha1. Build once at start-up. */
export function openApiV3GroupVersion(schemaOf: SchemaOf, kinds: readonly KindInfo[] = KINDS): Json {
  return {
    openapi: '3.0.0',
    info: INFO,
    paths: renderPaths(kinds, 'v3'),
    components: { schemas: componentSchemas(schemaOf, 'v3', kinds), securitySchemes: { BearerToken: BEARER } },
    security: [{ BearerToken: [] }],
  };
}

/** Body of GET /openapi/v2 (JSON only: we do not serve the protobuf form). Build once at start-up. */
export function openApiV2(schemaOf: SchemaOf, kinds: readonly KindInfo[] = KINDS): Json {
  return {
    swagger: '2.0',
    info: INFO,
    paths: renderPaths(kinds, 'v2'),
    definitions: componentSchemas(schemaOf, 'v2', kinds),
    securityDefinitions: { BearerToken: BEARER },
    security: [{ BearerToken: [] }],
  };
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** SHA-512 of the document's canonical JSON, upper-case hex as Kubernetes writes it in ?hash=. */
export function documentHash(doc: unknown): string {
  return createHash('sha512').update(canonicalJson(doc)).digest('hex').toUpperCase();
}
