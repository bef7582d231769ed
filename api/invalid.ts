// The 422 of an object that fails a check: Kubernetes' "Kind.group "name" is invalid: field: message"
// with one StatusCause per field.

import { InvalidError, type StatusCause } from '../errors';

export function invalid(kind: string, name: string, causes: StatusCause[]): InvalidError {
  const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return new InvalidError(`${kind}.stratuslab.eu "${name}" is invalid: ${summary}`, { name, kind, causes });
}
