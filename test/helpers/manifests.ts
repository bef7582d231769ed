// A small valid manifest of every served kind (schemas/kinds.ts) and its URLs, for tests that
// exercise all kinds the same way (strict decoding, fuzzing).

import { KINDS, type KindInfo } from '../../schemas/kinds';
import { API } from './api';

const V = 'stratuslab.eu/v1alpha1';

const SPECS: Record<string, Record<string, unknown>> = {
  VirtualMachine: { cpu: 1, memory: '1Gi' },
  Volume: { size: '1Gi' },
  Image: { source: { url: 'https://example.org/i.qcow2' }, format: 'qcow2' },
  Host: { unschedulable: false },
  Project: {},
  Network: { cidr: '10.0.0.0/24' },
  SecurityGroup: { ingress: [{ protocol: 'tcp', ports: '22', cidr: '0.0.0.0/0' }] },
};

/** A /24 of its own per Network name: Networks of one project may not overlap. */
function cidrFor(name: string): string {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `10.${(h >>> 8) & 255}.${h & 255}.0/24`;
}

/** A manifest of `kind` that the API accepts as it is. */
export function manifestOf(kind: KindInfo, name: string, labels: Record<string, string> = { app: 'test' }): Record<string, any> {
  const spec = SPECS[kind.kind];
  if (!spec) throw new Error(`test/helpers/manifests.ts has no manifest for kind ${kind.kind}: add one`);
  const copy = structuredClone(spec);
  if (kind.kind === 'Network') copy['cidr'] = cidrFor(name);
  return { apiVersion: V, kind: kind.kind, metadata: { name, labels }, spec: copy };
}

/** The collection URL of `kind` (in `namespace` when namespaced), or one object's URL. */
export function urlOf(kind: KindInfo, namespace: string, name?: string): string {
  const base = kind.namespaced ? `${API}/namespaces/${namespace}/${kind.plural}` : `${API}/${kind.plural}`;
  return name === undefined ? base : `${base}/${name}`;
}

/** Every served kind. */
export const SERVED_KINDS: readonly KindInfo[] = KINDS;
