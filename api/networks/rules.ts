// The checks of Networks, SecurityGroups and VM interfaces that need no store, as Kubernetes field
// causes: what api/networks/admission.ts refuses with 422 beyond the schemas.

import ipaddr from 'ipaddr.js';
import type { StatusCause } from '../../errors';
import {
  cidrContains, effectiveGateway, ipv4ToNumber, networkSpecProblems, parseCidr, parseRange, type Cidr,
} from '../../kube/networks';
import type { NetworkSpec, SecurityGroupRule, SecurityGroupSpec, VirtualMachineSpec } from '../../schemas/types.gen';

/** The value at a path such as spec.reserved[2] (for "Invalid value: ..."), undefined when absent. */
export function valueAt(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A value as Kubernetes shows it in "Invalid value: ...": strings and numbers as JSON, objects as "object". */
function shownValue(v: unknown): string {
  if (v !== null && typeof v === 'object') return '"object"';
  return JSON.stringify(v) ?? 'null';
}

export function invalidCause(obj: unknown, field: string, message: string): StatusCause {
  const v = valueAt(obj, field);
  if (v === undefined) return { field, reason: 'FieldValueRequired', message: `Required value: ${message}` };
  return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${shownValue(v)}: ${message}` };
}

export function forbiddenCause(field: string, message: string): StatusCause {
  return { field, reason: 'FieldValueForbidden', message: `Forbidden: ${message}` };
}

/** Network: the CIDR arithmetic, gateway, reserved ranges and mode (kube/networks.ts), as causes. */
export function networkCauses(obj: { spec: NetworkSpec }): StatusCause[] {
  return networkSpecProblems(obj.spec).map((p) => invalidCause(obj, p.field, p.message));
}

/** Fields of a Network that never change once it exists: its addresses, how hosts build it. */
export const IMMUTABLE_NETWORK_FIELDS = ['cidr', 'mode', 'vni', 'bridge'] as const;

/** A rule's peer CIDR: a.b.c.d/n (host bits allowed) or a bare address (/32); undefined when not one. */
export function parseRuleCidr(cidr: string): { address: string; prefixLength: number } | undefined {
  const [addr, prefix, extra] = cidr.split('/');
  if (extra !== undefined || !ipaddr.IPv4.isValidFourPartDecimal(addr)) return undefined;
  if (prefix === undefined) return { address: addr, prefixLength: 32 };
  if (!/^[0-9]{1,2}$/.test(prefix) || Number(prefix) > 32) return undefined;
  return { address: addr, prefixLength: Number(prefix) };
}

/** A rule's ports ("22" or "8000-8100") as an inclusive range, or why not. */
export function parsePorts(ports: string): { from: number; to: number } | string {
  const [a, b] = ports.split('-');
  const from = Number(a);
  const to = b === undefined ? from : Number(b);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > 65535 || from > 65535 || to < 1) return 'ports must be between 1 and 65535';
  if (to < from) return 'the port range ends before it starts';
  return { from, to };
}

function ruleCauses(obj: unknown, path: string, rule: SecurityGroupRule): StatusCause[] {
  const out: StatusCause[] = [];
  const hasCidr = rule.cidr !== undefined;
  const hasGroup = rule.securityGroup !== undefined;
  if (hasCidr && hasGroup) out.push(invalidCause(obj, path, 'cidr and securityGroup are mutually exclusive: set exactly one (the peer)'));
  if (!hasCidr && !hasGroup) out.push({ field: `${path}.cidr`, reason: 'FieldValueRequired', message: 'Required value: a rule names its peer: set exactly one of cidr (e.g. 0.0.0.0/0) and securityGroup' });
  if (hasCidr && !parseRuleCidr(rule.cidr!)) out.push(invalidCause(obj, `${path}.cidr`, 'must be an IPv4 CIDR such as 10.0.0.0/8 (or one address)'));
  if (rule.ports !== undefined) {
    const protocol = rule.protocol ?? 'any';
    if (protocol !== 'tcp' && protocol !== 'udp') {
      out.push(forbiddenCause(`${path}.ports`, `ports are only allowed with protocol tcp or udp, not ${protocol}`));
    } else {
      const p = parsePorts(rule.ports);
      if (typeof p === 'string') out.push(invalidCause(obj, `${path}.ports`, p));
    }
  }
  return out;
}

/** SecurityGroup: each rule has exactly one peer, ports only with tcp/udp and in 1-65535, a CIDR that parses. */
export function securityGroupCauses(obj: { spec?: SecurityGroupSpec }): StatusCause[] {
  const out: StatusCause[] = [];
  for (const dir of ['ingress', 'egress'] as const) {
    (obj.spec?.[dir] ?? []).forEach((rule, i) => out.push(...ruleCauses(obj, `spec.${dir}[${i}]`, rule)));
  }
  return out;
}

/** VM interfaces, without the store: a fixed address or security groups only on a Network; one fixed address once per network. */
export function vmInterfaceCauses(obj: { spec: Pick<VirtualMachineSpec, 'networks'> }): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Map<string, number>();
  (obj.spec.networks ?? []).forEach((n, i) => {
    const at = `spec.networks[${i}]`;
    if (!n.network) {
      if (n.ipAddress !== undefined) out.push(forbiddenCause(`${at}.ipAddress`, 'a fixed address is only allowed on an interface with a network (set network)'));
      if (n.securityGroups !== undefined && n.securityGroups.length > 0) {
        out.push(forbiddenCause(`${at}.securityGroups`, 'security groups are only enforced on an interface with a network (set network)'));
      }
      return;
    }
    if (n.ipAddress !== undefined) {
      const key = `${n.network} ${n.ipAddress}`;
      const first = seen.get(key);
      if (first !== undefined) out.push({ field: `${at}.ipAddress`, reason: 'FieldValueDuplicate', message: `Duplicate value: "${n.ipAddress}": spec.networks[${first}] has the same address on ${n.network}` });
      else seen.set(key, i);
    }
  });
  return out;
}

/**
 * Why `address` cannot be the fixed address of an interface on a Network of `spec`: outside its
 * CIDR, its network or broadcast address, the gateway, or reserved; undefined when it can.
 */
export function fixedAddressProblem(spec: NetworkSpec, networkName: string, address: string): string | undefined {
  let c: Cidr;
  try {
    c = parseCidr(spec.cidr);
  } catch {
    return undefined; // a Network with a broken spec is refused at its own admission
  }
  if (!cidrContains(c, address)) return `is not inside ${spec.cidr}, the CIDR of Network "${networkName}"`;
  const n = ipv4ToNumber(address)!;
  if (n === c.first) return `is the network address of ${spec.cidr}`;
  if (n === c.last) return `is the broadcast address of ${spec.cidr}`;
  if (effectiveGateway(spec) === address) return `is the gateway of Network "${networkName}"`;
  for (const r of spec.reserved ?? []) {
    const range = parseRange(r);
    if (typeof range !== 'string' && n >= range.from && n <= range.to) return `is reserved on Network "${networkName}" (${r})`;
  }
  return undefined;
}
