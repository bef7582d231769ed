// Validates objects against schemas/*.json with ajv (compiled once per Validator) and turns ajv's
// errors into Kubernetes-style field causes; also serves the dereferenced schemas for OpenAPI.

import Ajv from 'ajv';
import type { AnySchemaObject, ErrorObject, SchemaValidateFunction, ValidateFunction } from 'ajv';
import type { DataValidationCxt } from 'ajv/dist/types';
import addFormats from 'ajv-formats';
import { ErrorCode } from '../errors';
import { deepFreeze } from './freeze';
import { TOO_LARGE_REASON, parseQuantity, type QuantityError } from './quantity';
import { MAX_ANNOTATIONS_BYTES, annotationsBytes } from './limits';
import { sshPublicKeyProblem } from './ssh-key';
import { networkConfigProblem } from './network-config';
import { KINDS, resolveKind } from './kinds';
import commonSchema from './common.json';
import objectMetaSchema from './objectmeta.json';
import virtualMachineSchema from './virtualmachine.json';
import volumeSchema from './volume.json';
import imageSchema from './image.json';
import hostSchema from './host.json';
import projectSchema from './project.json';
import networkSchema from './network.json';
import securityGroupSchema from './securitygroup.json';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export type FieldCauseReason =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueTooLong'
  | 'FieldValueForbidden'
  | 'UnknownField';

/**
 * One invalid field, shaped like a Kubernetes StatusCause: `message` is the error body without
 * the field (as Kubernetes' field.Error.ErrorBody()), so that a Status message reads
 * `${field}: ${message}`; formatCause() renders that.
 */
export interface FieldCause {
  /** Kubernetes-style path, e.g. spec.disks[0].name; "" for the whole object */
  field: string;
  reason: FieldCauseReason;
  /** e.g. `Invalid value: "two": must be integer`, `Required value`, `unknown field "spec.bogus"` */
  message: string;
}

/** A cause as people read it: `spec.cpu: Invalid value: "two": must be integer`. */
export function formatCause(cause: FieldCause): string {
  return cause.field === '' ? cause.message : `${cause.field}: ${cause.message}`;
}

export interface ValidationResult {
  ok: boolean;
  /** a clone of the input with defaults applied; unknown fields removed when mode is Warn or Ignore */
  object: any;
  /** the errors; empty when ok */
  causes: FieldCause[];
  /** paths of unknown fields, e.g. "spec.bogus", "spec.disks[0].foo" (errors only with Strict) */
  unknownFields: string[];
}

export interface ValidateOptions {
  /** what to do with unknown fields, as kubectl's --validate / ?fieldValidation=; default Strict */
  fieldValidation?: FieldValidation;
  /** 'status': validate only obj.status (the status subresource); default 'object' */
  part?: 'object' | 'status';
}

/** Thrown when asked about a kind that schemas/kinds.ts does not know: a bug in the caller. */
export class UnknownKindError extends Error {
  readonly code = ErrorCode.UnknownKind;

  constructor(readonly kindName: string) {
    super(`unknown kind ${JSON.stringify(kindName)}; known kinds: ${KINDS.map((k) => k.kind).join(', ')}`);
    this.name = 'UnknownKindError';
  }
}

/** Base URI of the schema documents' $id. */
export const SCHEMA_BASE_URI = 'https://stratuslab.eu/schemas/v1alpha1/';

type SchemaNode = Record<string, any>;

/** Every schema document by file name. */
const DOCUMENTS: Readonly<Record<string, SchemaNode>> = {
  'common.json': commonSchema,
  'objectmeta.json': objectMetaSchema,
  'virtualmachine.json': virtualMachineSchema,
  'volume.json': volumeSchema,
  'image.json': imageSchema,
  'host.json': hostSchema,
  'project.json': projectSchema,
  'network.json': networkSchema,
  'securitygroup.json': securityGroupSchema,
};

/** Keywords that only annotate (ajv ignores them; OpenAPI consumers and this file read them). */
const ANNOTATIONS = ['x-stratus-message', 'x-kubernetes-list-map-keys', 'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields'];
/** Human detail used instead of ajv's message when the schema (or a constraint's subschema) fails. */
const MESSAGE = 'x-stratus-message';
const LIST_TYPE = 'x-kubernetes-list-type';
/** On common.json's quantity: the value must parse with schemas/quantity.ts (no overflow, at most 8Pi). */
const QUANTITY = 'x-stratus-quantity';
/** On spec.cloudInit.sshAuthorizedKeys items: one OpenSSH public key (schemas/ssh-key.ts). */
const SSH_PUBLIC_KEY = 'x-stratus-ssh-public-key';
/** On spec.cloudInit.networkData: a cloud-init network-config version 2 document (schemas/network-config.ts). */
const NETWORK_CONFIG = 'x-stratus-network-config';

interface CompiledKind {
  object: ValidateFunction;
  status: ValidateFunction;
  /** fully dereferenced, deep-frozen */
  schema: SchemaNode;
}

/**
 * Validates Stratus objects. Build one at start-up (compiling every schema takes a while) and
 * share it; it holds no per-call state.
 */
export class Validator {
  private readonly kinds = new Map<string, CompiledKind>();

  constructor() {
    const ajv = new Ajv({
      allErrors: true,
      useDefaults: true,
      verbose: true,
      allowUnionTypes: true,
      strict: true,
      strictRequired: false,
    });
    addFormats(ajv);
    ajv.addVocabulary(ANNOTATIONS);
    ajv.addKeyword({ keyword: LIST_TYPE, type: 'array', schemaType: 'string', errors: true, validate: validateListType });
    ajv.addKeyword({ keyword: QUANTITY, type: ['string', 'number'], schemaType: 'boolean', errors: true, validate: validateQuantity });
    ajv.addKeyword({ keyword: SSH_PUBLIC_KEY, type: 'string', schemaType: 'boolean', errors: true, validate: textCheck(SSH_PUBLIC_KEY, sshPublicKeyProblem) });
    ajv.addKeyword({ keyword: NETWORK_CONFIG, type: 'string', schemaType: 'boolean', errors: true, validate: textCheck(NETWORK_CONFIG, networkConfigProblem) });
    for (const doc of Object.values(DOCUMENTS)) ajv.addSchema(doc);

    const registry = new Map(Object.values(DOCUMENTS).map((d) => [String(d.$id), d]));
    for (const info of KINDS) {
      const doc = DOCUMENTS[info.schemaFile];
      if (!doc) throw new Error(`schemas/${info.schemaFile} (kind ${info.kind}) is not in the schema documents`);
      const id = String(doc.$id);
      const object = ajv.getSchema(id);
      const status = ajv.getSchema(`${id}#/properties/status`);
      if (!object || !status) throw new Error(`cannot compile the schema of ${info.kind}`);
      const schema = deepFreeze(dereference(doc, id, registry, []) as SchemaNode);
      this.kinds.set(info.kind, { object, status, schema });
    }
  }

  /**
   * Validates `obj` as an object of `kind` (any of its names). Never mutates `obj`: the result
   * carries a clone with the schema's defaults applied.
   * @throws UnknownKindError when `kind` is not a Stratus kind
   */
  validate(kind: string, obj: unknown, opts: ValidateOptions = {}): ValidationResult {
    const compiled = this.compiled(kind);
    const mode = opts.fieldValidation ?? 'Strict';
    const part = opts.part ?? 'object';

    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      return {
        ok: false,
        object: structuredClone(obj),
        causes: [{ field: '', reason: 'FieldValueInvalid', message: `Invalid value: ${formatValue(obj)}: must be a JSON object` }],
        unknownFields: [],
      };
    }
    const object = structuredClone(obj) as Record<string, unknown>;

    let target: unknown = object;
    let validateFn = compiled.object;
    let schema: SchemaNode | undefined = compiled.schema;
    let prefix: string[] = [];
    if (part === 'status') {
      if (object.status === undefined) return { ok: true, object, causes: [], unknownFields: [] };
      target = object.status;
      validateFn = compiled.status;
      schema = compiled.schema.properties?.status;
      prefix = ['status'];
    }

    let errors = run(validateFn, target);
    const unknown = errors.filter((e) => e.keyword === 'additionalProperties');
    const unknownFields = unknown.map((e) => fieldPath(schema, prefix, [...pointerSegments(e.instancePath), e.params.additionalProperty]));
    if (mode !== 'Strict' && unknown.length > 0) {
      for (const e of unknown) removeField(target, pointerSegments(e.instancePath), e.params.additionalProperty);
      errors = run(validateFn, target);
    }

    const causes: FieldCause[] = [];
    const seen = new Set<string>();
    for (const e of errors) {
      if (mode !== 'Strict' && e.keyword === 'additionalProperties') continue;
      if (isWrapper(e, errors)) continue;
      const cause = toCause(e, schema, prefix);
      const id = formatCause(cause);
      if (seen.has(id)) continue;
      seen.add(id);
      causes.push(cause);
    }
    // As apimachinery's ValidateAnnotationsSize: the keys and values together, whatever their number.
    if (part === 'object' && annotationsBytes((object.metadata as Record<string, unknown> | undefined)?.annotations) > MAX_ANNOTATIONS_BYTES) {
      causes.push({ field: 'metadata.annotations', reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_ANNOTATIONS_BYTES} bytes` });
    }
    return { ok: causes.length === 0, object, causes, unknownFields: [...new Set(unknownFields)] };
  }

  /**
   * The JSON Schema (draft-07) of a whole object of `kind`, with every $ref inlined (a property's
   * own description wins over the referenced definition's), without $id/$schema/definitions. Keeps
   * title (e.g. Quantity), if/then/not/allOf constraints, the x-kubernetes-* extensions (list-type,
   * list-map-keys, int-or-string, preserve-unknown-fields) and x-stratus-message (the human text
   * used when a constraint fails). A fresh copy on every call.
   * @throws UnknownKindError when `kind` is not a Stratus kind
   */
  schemaOf(kind: string): object {
    return structuredClone(this.compiled(kind).schema);
  }

  private compiled(kind: string): CompiledKind {
    const info = resolveKind(kind);
    const compiled = info && this.kinds.get(info.kind);
    if (!compiled) throw new UnknownKindError(kind);
    return compiled;
  }
}

/**
 * Kubernetes-style causes for the errors of any ajv schema (request options and patches too):
 * summary errors dropped, duplicates merged, fields named as in Kubernetes (`dryRun`, `[0].op`).
 */
export function causesOf(errors: readonly ErrorObject[], prefix: string[] = []): FieldCause[] {
  const all = [...errors];
  const causes: FieldCause[] = [];
  const seen = new Set<string>();
  for (const e of all) {
    if (isWrapper(e, all)) continue;
    const cause = toCause(e, undefined, prefix);
    const id = formatCause(cause);
    if (!seen.has(id)) causes.push(cause);
    seen.add(id);
  }
  return causes;
}

function run(fn: ValidateFunction, data: unknown): ErrorObject[] {
  return fn(data) ? [] : [...(fn.errors ?? [])];
}

/**
 * The x-kubernetes-list-type keyword: "map" lists have unique x-kubernetes-list-map-keys,
 * "set" lists have unique items, "atomic" lists are unconstrained. The duplicate is reported at
 * its key field (or at the item), like Kubernetes' `Duplicate value`.
 */
const validateListType: SchemaValidateFunction = function (
  listKind: string,
  data: unknown[],
  parentSchema?: AnySchemaObject,
  cxt?: DataValidationCxt,
): boolean {
  const errors: Partial<ErrorObject>[] = [];
  const base = cxt?.instancePath ?? '';
  const seen = new Set<string>();
  const keys: string[] = listKind === 'map' ? (parentSchema?.['x-kubernetes-list-map-keys'] ?? []) : [];
  data.forEach((item, i) => {
    let identity: unknown;
    let where = `${base}/${i}`;
    if (listKind === 'map') {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) return;
      const values = keys.map((k) => (item as Record<string, unknown>)[k]);
      if (values.some((v) => v === undefined)) return; // reported as Required value by the items' schema
      identity = keys.length === 1 ? values[0] : Object.fromEntries(keys.map((k, j) => [k, values[j]]));
      if (keys.length === 1) where += `/${escapePointer(keys[0])}`;
    } else if (listKind === 'set') {
      identity = item;
    } else {
      return;
    }
    const id = JSON.stringify(identity);
    if (seen.has(id)) errors.push({ keyword: LIST_TYPE, instancePath: where, params: { duplicate: identity }, message: 'duplicate value' });
    seen.add(id);
  });
  validateListType.errors = errors;
  return errors.length === 0;
};

/**
 * The x-stratus-quantity keyword: a quantity that the pattern accepts but the parser refuses
 * because it is too large (an exponent that overflows, "1e1000", or more than 8Pi). Malformed
 * values are left to the pattern, negative numbers to minimum, so each gets one cause.
 */
const validateQuantity: SchemaValidateFunction = function (enabled: boolean, data: string | number): boolean {
  validateQuantity.errors = [];
  if (!enabled) return true;
  try {
    parseQuantity(data);
  } catch (err) {
    if ((err as Partial<QuantityError>).tooLarge !== true) return true;
    validateQuantity.errors = [{ keyword: QUANTITY, message: TOO_LARGE_REASON, params: {} }];
    return false;
  }
  return true;
};

/** A keyword whose string value `problem` checks: its answer becomes the error's message. */
function textCheck(keyword: string, problem: (text: string) => string | undefined): SchemaValidateFunction {
  const validate: SchemaValidateFunction = function (enabled: boolean, data: string): boolean {
    const why = enabled ? problem(data) : undefined;
    validate.errors = why === undefined ? [] : [{ keyword, message: why, params: {} }];
    return why === undefined;
  };
  return validate;
}

/** ajv's summary errors that always come with a more precise one. */
function isWrapper(e: ErrorObject, all: ErrorObject[]): boolean {
  if (e.keyword === 'if' || e.keyword === 'propertyNames') return true;
  if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'allOf') {
    return all.some((o) => o !== e && o.instancePath.startsWith(e.instancePath) && o.keyword !== e.keyword);
  }
  return false;
}

function toCause(e: ErrorObject, root: SchemaNode | undefined, prefix: string[]): FieldCause {
  const segments = pointerSegments(e.instancePath);
  const parent = (e.parentSchema ?? {}) as SchemaNode;
  const custom: string | undefined = typeof parent[MESSAGE] === 'string' ? parent[MESSAGE] : undefined;
  const at = (extra: string[] = []): string => fieldPath(root, prefix, [...segments, ...extra]);
  const make = (field: string, reason: FieldCauseReason, message: string): FieldCause => ({ field, reason, message });

  // An invalid map key (propertyNames): reported at the map, naming the key.
  if (e.propertyName !== undefined) {
    return make(at(), 'FieldValueInvalid', `Invalid value: ${formatValue(e.propertyName)}: ${custom ?? describe(e)}`);
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = at([e.params.additionalProperty]);
      return { field, reason: 'UnknownField', message: `unknown field ${JSON.stringify(field)}` };
    }
    case 'required':
      return make(at([e.params.missingProperty]), 'FieldValueRequired', custom ? `Required value: ${custom}` : 'Required value');
    case 'dependencies':
      return make(at([e.params.missingProperty]), 'FieldValueRequired', `Required value: required when ${e.params.property} is set`);
    case 'enum':
      return make(at(), 'FieldValueNotSupported', `Unsupported value: ${formatValue(e.data)}: supported values: ${e.params.allowedValues.map(formatValue).join(', ')}`);
    case 'const':
      return make(at(), 'FieldValueNotSupported', `Unsupported value: ${formatValue(e.data)}: supported values: ${formatValue(e.params.allowedValue)}`);
    case 'maxLength':
      return make(at(), 'FieldValueTooLong', `Too long: may not be more than ${e.params.limit} bytes`);
    case 'not': {
      // not: {required: [x]} forbids one field: name it; with several, the object is at fault.
      const forbidden: unknown = (e.schema as SchemaNode | undefined)?.required;
      const extra = Array.isArray(forbidden) && forbidden.length === 1 ? [String(forbidden[0])] : [];
      return make(at(extra), 'FieldValueForbidden', `Forbidden: ${custom ?? 'must not match the forbidden form'}`);
    }
    case LIST_TYPE:
      return make(at(), 'FieldValueDuplicate', `Duplicate value: ${formatValue(e.params.duplicate)}`);
    case QUANTITY:
    case SSH_PUBLIC_KEY:
      return make(at(), 'FieldValueInvalid', `Invalid value: ${formatValue(e.data)}: ${e.message}`);
    case NETWORK_CONFIG:
      // The document itself is not repeated: it can be long.
      return make(at(), 'FieldValueInvalid', `Invalid value: ${e.message}`);
    default:
      return make(at(), 'FieldValueInvalid', `Invalid value: ${formatValue(e.data)}: ${custom ?? describe(e)}`);
  }
}

const FORMATS: Record<string, string> = {
  'date-time': 'must be an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z',
  uri: 'must be a URI',
};

/** A human sentence for an ajv error that has no custom message. */
function describe(e: ErrorObject): string {
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'type': {
      const types = Array.isArray(e.schema) ? e.schema : [e.schema];
      return `must be ${types.join(' or ')}`;
    }
    case 'pattern':
      return `must match the regular expression ${JSON.stringify(p.pattern)}`;
    case 'format':
      return FORMATS[p.format] ?? `must be a valid ${p.format}`;
    case 'minimum':
      return `must be greater than or equal to ${p.limit}`;
    case 'maximum':
      return `must be less than or equal to ${p.limit}`;
    case 'exclusiveMinimum':
      return `must be greater than ${p.limit}`;
    case 'exclusiveMaximum':
      return `must be less than ${p.limit}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters long`;
    case 'minItems':
      return `must have at least ${p.limit} items`;
    case 'maxItems':
      return `must have at most ${p.limit} items`;
    case 'minProperties':
      return `must have at least ${p.limit} fields`;
    case 'maxProperties':
      return `must have at most ${p.limit} fields`;
    default:
      return e.message ?? 'is invalid';
  }
}

/** Renders a value in a message: strings quoted, objects as (truncated) JSON. */
function formatValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * A Kubernetes field path for JSON pointer segments, walking the dereferenced schema to tell
 * struct fields (`.name`) from list indices (`[0]`) and map keys (`[key]`).
 */
function fieldPath(root: SchemaNode | undefined, prefix: string[], segments: string[]): string {
  let path = prefix.join('.');
  let schema = root;
  for (const seg of segments) {
    const props = schema?.properties as SchemaNode | undefined;
    if (props && Object.prototype.hasOwnProperty.call(props, seg)) {
      path += path === '' ? seg : `.${seg}`;
      schema = props[seg];
    } else if (/^[0-9]+$/.test(seg) && (schema === undefined || schema.items !== undefined || schema.type === 'array')) {
      path += `[${seg}]`;
      schema = schema?.items;
    } else if (schema && typeof schema.additionalProperties === 'object') {
      path += `[${seg}]`;
      schema = schema.additionalProperties;
    } else {
      path += path === '' ? seg : `.${seg}`;
      schema = undefined;
    }
  }
  return path;
}

function removeField(target: unknown, parentSegments: string[], field: string): void {
  let cur: any = target;
  for (const seg of parentSegments) {
    if (cur === null || typeof cur !== 'object') return;
    cur = cur[seg];
  }
  if (cur !== null && typeof cur === 'object') delete cur[field];
}

/** Keywords whose values are data, not schemas: never dereferenced. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'required', 'x-kubernetes-list-map-keys']);
/** Keywords dropped from the dereferenced schemas. */
const DROPPED_KEYWORDS = new Set(['$schema', '$id', 'definitions', '$comment']);

/** Inlines every $ref (resolved against `base`); siblings of a $ref override the target's keywords. */
function dereference(node: unknown, base: string, registry: Map<string, SchemaNode>, stack: string[]): unknown {
  if (Array.isArray(node)) return node.map((n) => dereference(n, base, registry, stack));
  if (node === null || typeof node !== 'object') return node;
  const src = node as SchemaNode;
  let out: SchemaNode = {};
  if (typeof src.$ref === 'string') {
    const abs = new URL(src.$ref, base).href;
    if (stack.includes(abs)) throw new Error(`circular $ref ${abs}`);
    const [docUri, fragment = ''] = abs.split('#');
    const doc = registry.get(docUri);
    if (!doc) throw new Error(`unresolvable $ref ${src.$ref} (from ${base})`);
    out = { ...(dereference(resolvePointer(doc, fragment, abs), docUri, registry, [...stack, abs]) as SchemaNode) };
  }
  for (const [k, v] of Object.entries(src)) {
    if (k === '$ref' || DROPPED_KEYWORDS.has(k)) continue;
    out[k] = DATA_KEYWORDS.has(k) ? structuredClone(v) : dereference(v, base, registry, stack);
  }
  return out;
}

function resolvePointer(doc: SchemaNode, fragment: string, ref: string): unknown {
  let cur: any = doc;
  for (const seg of pointerSegments(decodeURIComponent(fragment))) {
    if (cur === null || typeof cur !== 'object' || !(seg in cur)) throw new Error(`unresolvable $ref ${ref}`);
    cur = cur[seg];
  }
  return cur;
}
