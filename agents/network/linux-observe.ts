/**
 * What the Linux network backend reads from the host, parsed from the JSON of `ip -d -j addr show`,
 * `bridge -j fdb show` and `nft -j list table …` into the few facts the plan compares. Pure.
 */

export interface ObservedLink {
  name: string;
  /** linkinfo.info_kind: bridge, vxlan, vlan, veth…; undefined for plain devices */
  kind?: string;
  master?: string;
  mtu: number;
  /** administratively up (the UP flag) */
  up: boolean;
  /** IPv4 addresses as "a.b.c.d/prefix" */
  ipv4: string[];
  /** the parent device of a VLAN sub-interface */
  parent?: string;
  vxlan?: { id: number; local?: string; port: number; learning: boolean };
  vlan?: { id: number };
}

export interface ObservedHost {
  links: Map<string, ObservedLink>;
  /** per VXLAN device: the remotes of its all-zero (flood) FDB entries */
  floods: Map<string, Set<string>>;
  /** net.ipv4.ip_forward, when it was read */
  ipForward?: boolean;
}

interface IpLinkJson {
  ifname: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

/** Parses `ip -d -j addr show`. */
export function parseLinks(json: string): Map<string, ObservedLink> {
  const links = new Map<string, ObservedLink>();
  for (const l of JSON.parse(json || '[]') as IpLinkJson[]) {
    if (typeof l?.ifname !== 'string') continue;
    const kind = l.linkinfo?.info_kind;
    const data = l.linkinfo?.info_data ?? {};
    const link: ObservedLink = {
      name: l.ifname,
      kind,
      master: l.master,
      mtu: l.mtu ?? 0,
      up: (l.flags ?? []).includes('UP'),
      ipv4: (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => `${a.local}/${a.prefixlen}`),
      parent: l.link,
    };
    if (kind === 'vxlan') {
      link.vxlan = { id: Number(data.id), local: data.local as string | undefined, port: Number(data.port), learning: data.learning !== false };
    }
    if (kind === 'vlan') link.vlan = { id: Number(data.id) };
    links.set(link.name, link);
  }
  return links;
}

/** Parses `bridge -j fdb show`: the flood entries (00:00:00:00:00:00 with a dst) of stx- devices. */
export function parseFloods(json: string): Map<string, Set<string>> {
  const floods = new Map<string, Set<string>>();
  for (const e of JSON.parse(json || '[]') as Array<{ mac?: string; ifname?: string; dst?: string }>) {
    if (e?.mac !== '00:00:00:00:00:00' || !e.dst || !e.ifname?.startsWith('stx-')) continue;
    const set = floods.get(e.ifname) ?? new Set<string>();
    set.add(e.dst);
    floods.set(e.ifname, set);
  }
  return floods;
}

/**
 * `nft -j list table …` reduced to what the table does: without handles (renumbered on every
 * load), metainfo and counter values (they move with traffic), so two listings of the same
 * rules compare equal.
 */
export function normalizeNftListing(json: string): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'handle' || k === 'metainfo') continue;
      out[k] = k === 'counter' ? {} : strip(x);
    }
    return out;
  };
  const items = (JSON.parse(json) as { nftables?: unknown[] }).nftables ?? [];
  return JSON.stringify(items.filter((i) => !(i && typeof i === 'object' && 'metainfo' in i)).map(strip));
}
