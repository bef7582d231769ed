/**
 * The cloud-init NoCloud seed of a VM: the text of its meta-data (instance-id = the VM's uid,
 * local-hostname = its name, public-keys), user-data and network-config files, and their content
 * hash (kept in the domain's metadata, so that a change is seen). Pure; the ISO is made by
 * agents/vm/seeds.ts.
 */
import { createHash } from 'node:crypto';
import { Scalar, stringify } from 'yaml';

export interface SeedInput {
  /** the VM's uid */
  uid: string;
  /** the VM's name */
  hostname: string;
  sshAuthorizedKeys?: readonly string[];
  userData?: string;
  networkData?: string;
  /** the VM's interfaces (spec.networks name and MAC), for the default network-config */
  nics: readonly SeedNic[];
}

/** One interface of the seed's network-config. */
export interface SeedNic {
  name: string;
  mac: string;
  /** the address Stratus handed out (status.addresses): static configuration instead of DHCP */
  address?: { ipAddress: string; prefixLength: number; gateway?: string; dns?: readonly string[] };
  /** the network's MTU */
  mtu?: number;
}

export interface SeedFiles {
  'meta-data': string;
  'user-data': string;
  'network-config': string;
}

/** The file names of a seed, in the order they are hashed. */
export const SEED_FILE_NAMES = ['meta-data', 'user-data', 'network-config'] as const;

/** An empty cloud-config: cloud-init runs its defaults. */
const EMPTY_USER_DATA = '#cloud-config\n';

/**
 * YAML as cloud-init reads it: PyYAML implements YAML 1.1, where 52:54:00:12:34:56 is a base-60
 * integer and "no" a boolean, so such strings are written quoted; long lines (keys) are never folded.
 */
function yaml1_1(value: unknown): string {
  return stringify(value, { version: '1.1', lineWidth: 0 });
}

/** A string written double-quoted whatever it holds (a MAC address is never read as anything else). */
function quoted(value: string): Scalar {
  const s = new Scalar(value);
  s.type = Scalar.QUOTE_DOUBLE;
  return s;
}

export function buildSeedFiles(input: SeedInput): SeedFiles {
  const keys = (input.sshAuthorizedKeys ?? []).map((k) => k.trim()).filter(Boolean);
  const meta: Record<string, unknown> = { 'instance-id': input.uid, 'local-hostname': input.hostname };
  if (keys.length > 0) meta['public-keys'] = keys;
  const network = input.networkData ?? yaml1_1({ version: 2, ethernets: ethernets(input.nics) });
  return { 'meta-data': yaml1_1(meta), 'user-data': input.userData ?? EMPTY_USER_DATA, 'network-config': network };
}

/**
 * The default network-config's interfaces, each matched by its MAC address: the address Stratus
 * handed out when it has one (no DHCP server is needed), else DHCP. One default route only: the
 * first interface with a gateway gets it. It is written `gateway4`, which every cloud-init
 * renderer understands: older cloud-init rejects `routes: [{to: default}]` outside netplan, and
 * its ENI renderer turns routes into `route add` lines, a command images without net-tools lack.
 */
function ethernets(nics: readonly SeedNic[]): Record<string, unknown> {
  let routed = false;
  return Object.fromEntries(nics.map((n) => {
    const e: Record<string, unknown> = { match: { macaddress: quoted(n.mac) } };
    const a = n.address;
    if (!a) e.dhcp4 = true;
    else {
      e.addresses = [`${a.ipAddress}/${a.prefixLength}`];
      if (a.gateway && !routed) {
        e.gateway4 = a.gateway;
        routed = true;
      }
      if (a.dns && a.dns.length > 0) e.nameservers = { addresses: [...a.dns] };
    }
    if (n.mtu !== undefined) e.mtu = n.mtu;
    return [n.name, e];
  }));
}

/** The seed's content hash: sha256 over the three files, hex. */
export function seedHash(files: SeedFiles): string {
  const h = createHash('sha256');
  for (const name of SEED_FILE_NAMES) h.update(`${name}\0${Buffer.byteLength(files[name])}\0`).update(files[name]);
  return h.digest('hex');
}
