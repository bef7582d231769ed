// The shapes of request options and patches (schemas/requests/*.json: DeleteOptions, ListOptions
// query parameters, JSON patches, VM action options), compiled once per RequestValidator and reported as field causes.

import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import { causesOf, type FieldCause } from './validate';
import deleteOptionsSchema from './requests/deleteoptions.json';
import listOptionsSchema from './requests/listoptions.json';
import jsonPatchSchema from './requests/jsonpatch.json';
import vmActionOptionsSchema from './requests/vmactionoptions.json';

/** The outcome of checking a request part: the causes of its refusal, empty when it is well formed. */
export interface RequestCheck {
  causes: FieldCause[];
  /** fields no schema knows (e.g. `[0].foo` in a JSON patch), already counted in causes when refused */
  unknownFields: string[];
}

/**
 * Validates the parts of a request that are not objects of a kind. Build one per frontend and
 * share it; it holds no per-call state.
 */
export class RequestValidator {
  private readonly deleteOptionsFn: ValidateFunction;
  private readonly listOptionsFn: ValidateFunction;
  private readonly jsonPatchFn: ValidateFunction;
  private readonly vmActionOptionsFn: ValidateFunction;

  constructor() {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
    ajv.addVocabulary(['x-stratus-message']);
    this.deleteOptionsFn = ajv.compile(deleteOptionsSchema);
    this.listOptionsFn = ajv.compile(listOptionsSchema);
    this.jsonPatchFn = ajv.compile(jsonPatchSchema);
    this.vmActionOptionsFn = ajv.compile(vmActionOptionsSchema);
  }

  /** A decoded DELETE body (any JSON value). */
  deleteOptions(body: unknown): RequestCheck {
    return check(this.deleteOptionsFn, body, true);
  }

  /** List and watch query parameters, one string each. */
  listOptions(query: Record<string, string>): RequestCheck {
    return check(this.listOptionsFn, query, true);
  }

  /** A decoded JSON patch; unknown fields of operations are refused only when `strict`. */
  jsonPatch(body: unknown, strict: boolean): RequestCheck {
    return check(this.jsonPatchFn, body, strict);
  }

  /** The body of a VM's start, stop or restart action (api/actions/options.ts). */
  vmActionOptions(body: unknown): RequestCheck {
    return check(this.vmActionOptionsFn, body, true);
  }
}

function check(fn: ValidateFunction, data: unknown, strict: boolean): RequestCheck {
  if (fn(data)) return { causes: [], unknownFields: [] };
  const errors = fn.errors ?? [];
  const unknown = errors.filter((e) => e.keyword === 'additionalProperties');
  const unknownFields = causesOf(unknown).map((c) => c.field);
  return { causes: causesOf(strict ? errors : errors.filter((e) => e.keyword !== 'additionalProperties')), unknownFields };
}
