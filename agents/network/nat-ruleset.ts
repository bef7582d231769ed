/**
 * NAT networks on the host, pure: the `nft -f` transaction that replaces table `ip stratus-nat`.
 * - postrouting: masquerade what a nat network's CIDR sends out through a non-Stratus interface;
 * - forward: a nat bridge may send out and get replies back, never reach another stb- bridge,
 *   and nothing outside may open a connection into it.
 * The chains accept by default: the host's other traffic is not ours to filter. When the host
 * loads br_netfilter, traffic bridged inside one network also passes these hooks (iif = oif),
 * which the rules let through.
 */
import { parseCidr } from '../../kube/networks';

export const NAT_TABLE = 'stratus-nat';

export interface NatNetwork {
  bridge: string;
  cidr: string;
}

/** The transaction that makes the table hold exactly `networks`; undefined when there are none (remove the table). */
export function natRuleset(networks: NatNetwork[]): string | undefined {
  if (networks.length === 0) return undefined;
  const sorted = [...networks].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const postrouting: string[] = [];
  const forward: string[] = [];
  for (const n of sorted) {
    if (!/^stb-[0-9a-f]{10}$/.test(n.bridge)) throw new Error(`nat: invalid bridge name ${JSON.stringify(n.bridge)}`);
    const c = parseCidr(n.cidr);
    const cidr = `${c.network}/${c.prefixLength}`;
    postrouting.push(`ip saddr ${cidr} oifname != "stb-*" masquerade`);
    forward.push(
      `iifname "${n.bridge}" oifname "stb-*" oifname != "${n.bridge}" drop`,
      `iifname "${n.bridge}" ip saddr ${cidr} accept`,
      `oifname "${n.bridge}" ct state established,related accept`,
      `oifname "${n.bridge}" iifname != "${n.bridge}" drop`,
    );
  }
  const chain = (name: string, head: string, lines: string[]) => [`  chain ${name} {`, `    ${head}`, ...lines.map((l) => `    ${l}`), '  }'];
  return [
    `add table ip ${NAT_TABLE}`,
    `delete table ip ${NAT_TABLE}`,
    `table ip ${NAT_TABLE} {`,
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', postrouting),
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    '}',
    '',
  ].join('\n');
}
