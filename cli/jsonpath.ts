// The CLI's side of JSONPath (-o jsonpath=..., wait --for jsonpath=...): kube/jsonpath.ts evaluates;
// here a path that does not parse becomes a usage error (exit code 2), as kubectl reports it.

import { ErrorCode, hasCode } from '../errors';
import * as jsonpath from '../kube/jsonpath';
import { UsageError } from './errors/usage-error';

export { renderTemplate, type Segment, type TemplatePart } from '../kube/jsonpath';

function asUsage<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return f(...args);
    } catch (err) {
      if (hasCode(err, ErrorCode.InvalidJsonPath)) throw new UsageError((err as Error).message, { cause: err });
      throw err;
    }
  };
}

/** kube/jsonpath parseJsonPath; throws UsageError for a path that does not parse. */
export const parseJsonPath = asUsage(jsonpath.parseJsonPath);
/** kube/jsonpath parseJsonPathTemplate; throws UsageError for a template that does not parse. */
export const parseJsonPathTemplate = asUsage(jsonpath.parseJsonPathTemplate);
/** kube/jsonpath evaluateJsonPath; throws UsageError when `path` is a string that does not parse. */
export const evaluateJsonPath = asUsage(jsonpath.evaluateJsonPath);
