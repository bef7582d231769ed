// The fieldsV1 wire encoding of a FieldSet, as Kubernetes writes it in managedFields:
// `f:<name>` per field, `{}` for a leaf, `".": {}` when a member also has members below it.

import { FieldSet, type FieldPath } from './field-set';
import type { FieldsV1 } from './types';

interface Node {
  member: boolean;
  children: Map<string, Node>;
}

/** Encodes a set; keys are sorted (`.` first) so equal sets always encode to identical JSON. */
export function toFieldsV1(set: FieldSet): FieldsV1 {
  const root: Node = { member: false, children: new Map() };
  for (const path of set) {
    if (path.length === 0) continue;
    let node = root;
    for (const segment of path) {
      let child = node.children.get(segment);
      if (!child) {
        child = { member: false, children: new Map() };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.member = true;
  }
  return encode(root);
}

function encode(node: Node): FieldsV1 {
  const out: FieldsV1 = {};
  if (node.member && node.children.size > 0) out['.'] = {};
  for (const name of [...node.children.keys()].sort()) {
    out[`f:${name}`] = encode(node.children.get(name) as Node);
  }
  return out;
}

/**
 * Decodes fieldsV1. Stratus keeps lists atomic, so list-item keys written by a real Kubernetes
 * server (`k:{...}`, `v:...`, `i:N`) collapse to ownership of the list field that holds them.
 * Anything that is not an object is ignored.
 */
export function fromFieldsV1(fields: unknown): FieldSet {
  const set = new FieldSet();
  decode(fields, [], set);
  return set;
}

function decode(fields: unknown, path: string[], set: FieldSet): void {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return;
  const keys = Object.keys(fields);
  if (keys.length === 0) {
    if (path.length > 0) set.add(path);
    return;
  }
  for (const key of keys) {
    const child = (fields as Record<string, unknown>)[key];
    if (key === '.') {
      if (path.length > 0) set.add(path);
    } else if (key.startsWith('f:')) {
      decode(child, [...path, key.slice(2)], set);
    } else if (path.length > 0) {
      set.add(path as FieldPath);
    }
  }
}
