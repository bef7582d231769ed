// Host-side networking contracts shared by the backend (bridges, VXLAN, NAT) and the firewall.

export interface HostNetworkSpec {
  uid: string;
  key: string /* ns/name */;
  mode: 'nat' | 'bridge' | 'overlay';
  bridge: string;
  cidr: string;
  gateway?: string /* nat: put on the bridge with the cidr's prefix */;
  mtu?: number;
  vxlan?: {
    device: string;
    vni: number;
    local: string /* this host's underlay IPv4 */;
    remotes: string[] /* other hosts' underlay IPv4s */;
    port?: number /* 4789 */;
  };
  uplink?: { device: string /* host interface */; vlan?: number; vlanDevice?: string /* stv-… */ };
}

export interface FirewallRule {
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  ports?: { from: number; to: number };
  cidrs: string[];
}

export interface FirewallPort {
  tap: string;
  mac: string;
  address?: string /* its IPv4, anti-spoofing */;
  /** the bridge the tap goes on: the linux backend creates the tap there (a session libvirtd cannot) */
  bridge?: string;
  ingress: FirewallRule[];
  egress: FirewallRule[] | 'all';
}

export interface HostNetworkState {
  networks: HostNetworkSpec[];
  ports: FirewallPort[];
}

export interface HostNetworkBackend {
  readonly name: 'linux' | 'none';
  /** what this host can build: modes and usable uplink interfaces */
  capabilities(): Promise<{ modes: Array<'nat' | 'bridge' | 'overlay'>; interfaces: string[] }>;
  /** makes the host match `state` exactly (creates, updates, removes only its own devices/tables); idempotent */
  apply(state: HostNetworkState): Promise<void>;
}
