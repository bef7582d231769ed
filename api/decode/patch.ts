// Patch bodies decoded as Kubernetes does before anything is read (JSON patch: RFC 6902 operations,
// merge patch: an object, apply: a whole configuration of the kind), and patching errors as 4xx.

import type { Context } from 'koa';
import * as jsonpatch from 'fast-json-patch';
import mergePatch from 'json-merge-patch';
import { BadRequestError, InvalidError, RequestEntityTooLargeError, type StatusCause } from '../../errors';
import { API_VERSION, type KindInfo } from '../../schemas/kinds';
import type { RequestValidator } from '../../schemas/requests';
import type { FieldValidation } from '../../schemas/validate';
import type { StoredObject } from '../../store';

/** Kubernetes' limit on the operations of one JSON patch. */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

function invalidPatch(causes: StatusCause[]): InvalidError {
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new InvalidError(`the JSON patch is invalid: ${summary}`, { causes });
}

/**
 * Checks a JSON patch: 400 unless a list of objects, 413 beyond 10,000 operations, 422 for an
 * unknown op, a malformed or prototype path, a missing value or from, or a move into its own
 * child (RFC 6902 4.4). Unknown fields of operations: refused (Strict) or reported to `warn`.
 */
export function decodeJsonPatch(body: unknown, fv: FieldValidation, requests: RequestValidator, warn: (field: string) => void): jsonpatch.Operation[] {
  if (!Array.isArray(body)) throw new BadRequestError('a JSON patch must be an array of operations');
  const notObject = body.findIndex((op) => op === null || typeof op !== 'object' || Array.isArray(op));
  if (notObject >= 0) throw new BadRequestError(`a JSON patch must be an array of operations: operation ${notObject} is not an object`);
  if (body.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new RequestEntityTooLargeError(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${body.length}`);
  }
  const { causes, unknownFields } = requests.jsonPatch(body, fv === 'Strict');
  const ops = body as jsonpatch.Operation[];
  ops.forEach((op, i) => {
    if (op.op === 'move' && typeof op.from === 'string' && typeof op.path === 'string' && op.path.startsWith(`${op.from}/`)) {
      causes.push({ field: `[${i}].from`, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(op.from)}: a location cannot be moved into one of its children (${op.path})` });
    }
  });
  if (causes.length > 0) throw invalidPatch(causes);
  if (fv === 'Warn') for (const f of unknownFields) warn(`json patch ${f}`);
  return ops;
}

/** Applies a decoded JSON patch to a private copy of `cur`; any failure is 422, as Kubernetes answers. */
export function applyJsonPatch(cur: StoredObject, ops: jsonpatch.Operation[]): unknown {
  try {
    return jsonpatch.applyPatch(structuredClone(cur), ops, true, true, true).newDocument;
  } catch (err) {
    // The library's own errors say what failed; others (a TypeError deep inside it) say nothing useful.
    const known = err instanceof jsonpatch.JsonPatchError;
    const where = known && typeof err.index === 'number' ? ` (operation ${err.index})` : '';
    const detail = known ? err.message.split('\n')[0] : 'the patch does not apply to the object';
    throw new InvalidError(`the JSON patch could not be applied: ${detail}${where}`, { causes: [{ reason: 'FieldValueInvalid', message: detail }] });
  }
}

/** A merge patch is an object (400 otherwise). */
export function decodeMergePatch(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('a merge patch must be a JSON object');
  return body as Record<string, unknown>;
}

/** Applies a merge patch to a private copy of `cur` (json-merge-patch skips __proto__ keys). */
export function applyMergePatch(cur: StoredObject, patch: Record<string, unknown>): unknown {
  try {
    return mergePatch.apply(structuredClone(cur), patch);
  } catch (err) {
    throw new InvalidError(`the merge patch could not be applied: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * An apply configuration names its kind and version (400 "invalid object type" otherwise, as
 * Kubernetes' field manager) and carries no managedFields.
 */
export function checkApplyConfiguration(body: unknown, kind: KindInfo): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('an apply configuration must be an object');
  const o = body as { apiVersion?: unknown; kind?: unknown; metadata?: unknown };
  if (o.apiVersion !== API_VERSION) {
    throw new BadRequestError(`Incorrect version specified in apply patch. Specified patch version: ${typeof o.apiVersion === 'string' ? o.apiVersion : ''}, expected: ${API_VERSION}`);
  }
  if (o.kind !== kind.kind) {
    throw new BadRequestError(`invalid object type: ${API_VERSION}, Kind=${typeof o.kind === 'string' ? o.kind : ''} (expected ${kind.kind})`);
  }
  const meta = o.metadata;
  if (meta && typeof meta === 'object' && !Array.isArray(meta) && (meta as { managedFields?: unknown }).managedFields != null) {
    throw new BadRequestError('metadata.managedFields must be nil');
  }
}

/**
 * PatchOptions' force: only for apply (422 Forbidden otherwise, as Kubernetes), true or false
 * (400 for anything else); absent is false.
 */
export function patchForce(ctx: Context, isApply: boolean): boolean {
  const param = ctx.query['force'];
  if (param === undefined) return false;
  if (!isApply) {
    throw new InvalidError('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch', {
      kind: 'PatchOptions', group: 'meta.k8s.io', name: '', causes: [{ field: 'force', reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch' }],
    });
  }
  const text = Array.isArray(param) ? param[param.length - 1] : param;
  if (!/^(true|false|1|0|)$/i.test(text)) throw new BadRequestError(`force: Invalid value: ${JSON.stringify(text.slice(0, 100))}: must be true or false`);
  return !/^(false|0)$/i.test(text);
}
