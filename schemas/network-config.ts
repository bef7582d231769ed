// The check of spec.cloudInit.networkData (the x-stratus-network-config keyword): a YAML document
// that cloud-init reads as network configuration version 2. Pure.

import { parseDocument } from 'yaml';

/** Why `text` is not a network-config version 2 document, or undefined when it is one. */
export function networkConfigProblem(text: string): string | undefined {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return `not valid YAML: ${String(doc.errors[0].message).split('\n')[0]}`;
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return `not valid YAML: ${String((err as Error).message).split('\n')[0]}`;
  }
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isMap(value)) return 'must be a YAML mapping with version: 2 (cloud-init network-config version 2)';
  // cloud-init also takes the document nested under a top-level "network" key.
  const config = isMap(value.network) ? value.network : value;
  if (config.version !== 2) return 'must say version: 2 (cloud-init network-config version 2)';
  return undefined;
}
