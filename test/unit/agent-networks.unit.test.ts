// VMs on Networks, the agent's pure parts: the tap interface of the domain XML, the static
// addresses of the seed's network-config, resolveDesired() waiting for addresses, and
// computeHostNetwork() (bridges, VXLAN remotes, firewall ports from security groups).
import { parse } from 'yaml';
import type { HostObject, NetworkObject, SecurityGroupObject, VirtualMachineObject } from '../../store';
import type { NetworkSpec, NetworkStatus, SecurityGroupSpec, VirtualMachineSpec, VirtualMachineStatus } from '../../schemas/types.gen';
import { buildNetwork, buildSeedFiles, fingerprintOf, userNetArgs } from '../../agents/domain';
import { resolveDesired, type HostContext } from '../../agents/vm/desired';
import { computeHostNetwork, parsePorts, reportOf, type HostNetworkInput } from '../../agents/network/host-network';
import { HostNetworkError } from '../../agents/errors/host-network';
import { derivedVni, hostDeviceNames, macFor, tapName } from '../../kube/networks';
import { loadAgentConfig, loadAgentNetworkConfig } from '../../config/agent';

const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';
const NET_UID = '11111111-2222-3333-4444-555555555555';

describe('domain XML', () => {
  test('an interface on a Network is its tap (made by the agent, only opened by libvirt), with MAC, model and MTU', () => {
    const xml = buildNetwork([{ name: 'lan', model: 'virtio', mac: '52:54:00:00:00:02', tap: { name: 'stt-abcdef0123', mtu: 1450 } }]);
    expect(xml).toBe([
      "<interface type='ethernet'>", "  <target dev='stt-abcdef0123' managed='no'/>",
      "  <mac address='52:54:00:00:00:02'/>", "  <model type='virtio'/>", "  <mtu size='1450'/>", '</interface>',
    ].join('\n'));
    const fp = fingerprintOf(`<domain><devices>${xml}</devices></domain>`);
    expect(fp.nics).toEqual([{ type: 'ethernet', mac: '52:54:00:00:00:02', model: 'virtio', tap: 'stt-abcdef0123', mtu: 1450 }]);
    // libvirt's own tap names (vnet0) of other interfaces are not ours to compare
    expect(fingerprintOf("<domain><devices><interface type='network'><source network='x'/><target dev='vnet0'/></interface></devices></domain>").nics[0].tap).toBeUndefined();
  });

  test('an interface named "default" on a Network is a tap interface, not user-mode networking', () => {
    const nics = [{ name: 'default', model: 'e1000' as const, mac: '52:54:00:00:00:03', tap: { name: 'stt-abcdef0123' } }];
    expect(buildNetwork(nics, { commandLine: true })).toContain("<interface type='ethernet'>");
    expect(buildNetwork(nics, { commandLine: true })).not.toContain('<mtu');
    expect(userNetArgs(nics)).toEqual([]);
  });
});

describe('seed network-config', () => {
  const files = (nics: Parameters<typeof buildSeedFiles>[0]['nics']) => parse(buildSeedFiles({ uid: UID, hostname: 'a', nics })['network-config']);

  test('static addresses, one default route (the first interface with a gateway), DNS and MTU; other interfaces DHCP', () => {
    const text = buildSeedFiles({
      uid: UID, hostname: 'a', nics: [
        { name: 'default', mac: '52:54:00:00:00:01' },
        { name: 'lan', mac: '52:54:00:00:00:02', mtu: 1450, address: { ipAddress: '10.20.0.5', prefixLength: 24, gateway: '10.20.0.1', dns: ['10.20.0.1', '9.9.9.9'] } },
        { name: 'back', mac: '52:54:00:00:00:03', mtu: 1500, address: { ipAddress: '10.30.0.7', prefixLength: 26, gateway: '10.30.0.1' } },
      ],
    })['network-config'];
    expect(text).toContain('macaddress: "52:54:00:00:00:02"');
    expect(parse(text)).toEqual({
      version: 2,
      ethernets: {
        default: { match: { macaddress: '52:54:00:00:00:01' }, dhcp4: true },
        lan: { match: { macaddress: '52:54:00:00:00:02' }, addresses: ['10.20.0.5/24'], gateway4: '10.20.0.1', nameservers: { addresses: ['10.20.0.1', '9.9.9.9'] }, mtu: 1450 },
        back: { match: { macaddress: '52:54:00:00:00:03' }, addresses: ['10.30.0.7/26'], mtu: 1500 },
      },
    });
  });

  test('no gateway, no DNS: an address only', () => {
    expect(files([{ name: 'lan', mac: '52:54:00:00:00:02', address: { ipAddress: '192.168.5.9', prefixLength: 24, dns: [] } }]).ethernets.lan)
      .toEqual({ match: { macaddress: '52:54:00:00:00:02' }, addresses: ['192.168.5.9/24'] });
  });
});

const network = (spec: Partial<NetworkSpec> = {}, status?: NetworkStatus, name = 'net', uid = NET_UID): NetworkObject => ({
  apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Network', metadata: { name, namespace: 'demo', uid }, spec: { cidr: '10.20.0.0/24', ...spec }, ...(status ? { status } : {}),
});
function vmObj(spec: Partial<VirtualMachineSpec>, status?: VirtualMachineStatus, name = 'web', uid = UID, namespace = 'demo'): VirtualMachineObject {
  return { apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace, uid, generation: 1 }, spec: { cpu: 1, memory: '512Mi', ...spec }, ...(status ? { status } : {}) };
}
const addr = (name: string, ip: string, extra: Partial<NonNullable<VirtualMachineStatus['addresses']>[number]> = {}) => ({
  name, network: 'demo/net', ipAddress: ip, prefixLength: 24, gateway: '10.20.0.1', dns: ['10.20.0.1'], mac: macFor(UID, 0), ...extra,
});

describe('resolveDesired on Networks', () => {
  const ctx: HostContext = {
    host: 'hv-1', virtType: 'test', consoleDir: '/c', pool: 'default', poolPaths: { default: '/p' }, defaultDiskBytes: 1 << 30, seedDir: '/s',
    network: (ns, n) => (ns === 'demo' && n === 'net' ? network({ mtu: 1400 }) : undefined),
  };

  test('the tap and MAC of the interface, the network\'s MTU, and the address in the seed', () => {
    const vm = vmObj({ networks: [{ name: 'default' }, { name: 'lan', network: 'net' }] }, { host: 'hv-1', addresses: [addr('lan', '10.20.0.5')] });
    const d = resolveDesired(vm, { images: {}, volumes: {} }, ctx).desired!;
    expect(d.domain.nics).toEqual([
      { name: 'default', model: 'virtio', mac: macFor(UID, 0) },
      { name: 'lan', model: 'virtio', mac: macFor(UID, 1), tap: { name: tapName(UID, 1), mtu: 1400 } },
    ]);
    expect(d.xml).toContain(`<target dev='${tapName(UID, 1)}' managed='no'/>`);
    expect(parse(d.seed!.files['network-config']).ethernets.lan).toEqual({
      match: { macaddress: macFor(UID, 1) }, addresses: ['10.20.0.5/24'], gateway4: '10.20.0.1', nameservers: { addresses: ['10.20.0.1'] }, mtu: 1400,
    });
  });

  test('no address yet: the VM waits (AddressPending); an unknown Network: NetworkNotFound', () => {
    const r = resolveDesired(vmObj({ networks: [{ name: 'lan', network: 'net' }] }, { host: 'hv-1' }), { images: {}, volumes: {} }, ctx);
    expect(r.problem).toMatchObject({ reason: 'AddressPending', terminal: false });
    const other = resolveDesired(vmObj({ networks: [{ name: 'lan', network: 'other/x' }] }, { host: 'hv-1' }), { images: {}, volumes: {} }, ctx);
    expect(other.problem).toMatchObject({ reason: 'NetworkNotFound', message: expect.stringContaining('other/x') });
  });
});

describe('computeHostNetwork', () => {
  const host = (name: string, address: string | undefined, uids: string[]): HostObject => ({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'Host', metadata: { name }, spec: {},
    status: { ...(address ? { addresses: [{ type: 'InternalIP', address }] } : {}), networks: uids.map((uid) => ({ network: 'demo/net', uid, ready: true })) },
  });
  const sg = (name: string, spec: SecurityGroupSpec, addresses?: string[]): SecurityGroupObject => ({
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'SecurityGroup', metadata: { name, namespace: 'demo', uid: `sg-${name}` }, spec, ...(addresses ? { status: { addresses } } : {}),
  });
  function input(o: { nets: NetworkObject[]; vms: VirtualMachineObject[]; sgs?: SecurityGroupObject[]; hosts?: HostObject[]; modes?: HostNetworkInput['capabilities']['modes']; interfaces?: string[]; address?: string }): HostNetworkInput {
    return {
      host: 'hv-1', address: 'address' in o ? o.address : '192.0.2.10', backend: 'none',
      capabilities: { modes: o.modes ?? ['nat', 'overlay'], interfaces: o.interfaces ?? [] },
      vms: o.vms,
      network: (ns, n) => o.nets.find((x) => x.metadata.namespace === ns && x.metadata.name === n),
      securityGroup: (ns, n) => (o.sgs ?? []).find((x) => x.metadata.namespace === ns && x.metadata.name === n),
      hosts: o.hosts ?? [],
    };
  }
  const onNet = (extra: Partial<VirtualMachineSpec['networks'] extends (infer T)[] | undefined ? T : never> = {}) =>
    vmObj({ networks: [{ name: 'lan', network: 'net', ...extra }] }, { host: 'hv-1', addresses: [addr('lan', '10.20.0.5')] });

  test('a nat network: its bridge with the gateway; the VM\'s port receives from the network (project default) and sends anything', () => {
    const c = computeHostNetwork(input({ nets: [network()], vms: [onNet()] }));
    expect(c.state.networks).toEqual([{ uid: NET_UID, key: 'demo/net', mode: 'nat', bridge: hostDeviceNames(NET_UID).bridge, cidr: '10.20.0.0/24', gateway: '10.20.0.1', mtu: 1500 }]);
    expect(c.state.ports).toEqual([{
      tap: tapName(UID, 0), bridge: hostDeviceNames(NET_UID).bridge, mac: macFor(UID, 0), address: '10.20.0.5',
      ingress: [{ protocol: 'any', cidrs: ['10.20.0.1/32'] }, { protocol: 'any', cidrs: ['10.20.0.0/24'] }], egress: 'all',
    }]);
    expect(reportOf(c)).toEqual([{ network: 'demo/net', uid: NET_UID, mode: 'nat', ready: true }]);
  });

  test('an overlay network: VXLAN to the other hosts that built it (not this one, not twice, not those without an address)', () => {
    const hosts = [host('hv-1', '192.0.2.10', [NET_UID]), host('hv-2', '192.0.2.11', [NET_UID]), host('hv-3', '192.0.2.12', ['other']), host('hv-4', undefined, [NET_UID]), host('hv-5', '192.0.2.11', [NET_UID])];
    const c = computeHostNetwork(input({ nets: [network({ mode: 'overlay' })], vms: [onNet()], hosts }));
    const names = hostDeviceNames(NET_UID);
    expect(c.state.networks[0]).toEqual({
      uid: NET_UID, key: 'demo/net', mode: 'overlay', bridge: names.bridge, cidr: '10.20.0.0/24', mtu: 1450,
      vxlan: { device: names.vxlan, vni: derivedVni(NET_UID), local: '192.0.2.10', remotes: ['192.0.2.11'] },
    });
    // no gateway on an overlay network unless set: the port allows the network only
    expect(c.state.ports[0].ingress).toEqual([{ protocol: 'any', cidrs: ['10.20.0.0/24'] }]);
    // without an underlay address this host cannot build it
    const none = computeHostNetwork(input({ nets: [network({ mode: 'overlay' })], vms: [onNet()], hosts, address: undefined }));
    expect(none.state).toEqual({ networks: [], ports: [] });
    expect(reportOf(none)).toEqual([{ network: 'demo/net', uid: NET_UID, mode: 'overlay', ready: false, message: expect.stringContaining('STRATUS_NETWORK_ADDRESS') }]);
  });

  test('a bridge network needs its interface among the uplinks; a VLAN gets its sub-interface', () => {
    const net = network({ mode: 'bridge', bridge: { interface: 'eth1', vlan: 42 }, gateway: '10.20.0.254' });
    const refused = computeHostNetwork(input({ nets: [net], vms: [onNet()], modes: ['nat', 'overlay', 'bridge'] }));
    expect(reportOf(refused)[0]).toMatchObject({ ready: false, message: expect.stringContaining('eth1 is not an uplink') });
    const c = computeHostNetwork(input({ nets: [net], vms: [onNet()], modes: ['nat', 'overlay', 'bridge'], interfaces: ['eth1'] }));
    expect(c.state.networks[0]).toMatchObject({ mode: 'bridge', uplink: { device: 'eth1', vlan: 42, vlanDevice: hostDeviceNames(NET_UID).vlan } });
    expect(c.state.networks[0].gateway).toBeUndefined();
    expect(c.state.ports[0].ingress[0]).toEqual({ protocol: 'any', cidrs: ['10.20.0.254/32'] });
    const unsupported = computeHostNetwork(input({ nets: [net], vms: [onNet()] }));
    expect(reportOf(unsupported)[0].message).toMatch(/cannot build bridge networks/);
  });

  test('security groups: tcp 22 from a CIDR, everything from another group\'s members, egress restricted only when a group lists egress', () => {
    const sgs = [
      sg('ssh', { ingress: [{ protocol: 'tcp', ports: '22', cidr: '203.0.113.0/24' }, { protocol: 'udp', ports: '8000-8100', securityGroup: 'web' }, { securityGroup: 'empty' }] }),
      sg('web', {}, ['10.20.0.9', '10.20.0.7']),
      sg('empty', {}),
      sg('out', { egress: [{ protocol: 'tcp', ports: '443', cidr: '0.0.0.0/0' }] }),
    ];
    const c = computeHostNetwork(input({ nets: [network()], vms: [onNet({ securityGroups: ['ssh'] })], sgs }));
    expect(c.state.ports[0].ingress).toEqual([
      { protocol: 'any', cidrs: ['10.20.0.1/32'] },
      { protocol: 'tcp', ports: { from: 22, to: 22 }, cidrs: ['203.0.113.0/24'] },
      { protocol: 'udp', ports: { from: 8000, to: 8100 }, cidrs: ['10.20.0.7/32', '10.20.0.9/32'] },
    ]);
    expect(c.state.ports[0].egress).toBe('all');
    const out = computeHostNetwork(input({ nets: [network()], vms: [onNet({ securityGroups: ['ssh', 'out'] })], sgs }));
    expect(out.state.ports[0].egress).toEqual([{ protocol: 'any', cidrs: ['10.20.0.1/32'] }, { protocol: 'tcp', ports: { from: 443, to: 443 }, cidrs: ['0.0.0.0/0'] }]);
    // a group that does not exist allows nothing
    const missing = computeHostNetwork(input({ nets: [network()], vms: [onNet({ securityGroups: ['nope'] })], sgs }));
    expect(missing.state.ports[0].ingress).toEqual([{ protocol: 'any', cidrs: ['10.20.0.1/32'] }]);
  });

  test('a shared network: by default a VM receives only from its own project\'s members', () => {
    const shared = network({ shared: true }, { members: [{ project: 'demo', addresses: ['10.20.0.5', '10.20.0.6'] }, { project: 'other', addresses: ['10.20.0.8'] }] });
    const c = computeHostNetwork(input({ nets: [shared], vms: [onNet()] }));
    expect(c.state.ports[0].ingress).toEqual([{ protocol: 'any', cidrs: ['10.20.0.1/32'] }, { protocol: 'any', cidrs: ['10.20.0.5/32', '10.20.0.6/32'] }]);
  });

  test('one network for several VMs, ports sorted; a VM on an unknown network builds nothing', () => {
    const other = vmObj({ networks: [{ name: 'lan', network: 'net' }] }, { host: 'hv-1', addresses: [addr('lan', '10.20.0.6')] }, 'db', 'uid-2');
    const lost = vmObj({ networks: [{ name: 'lan', network: 'gone' }] }, { host: 'hv-1' }, 'x', 'uid-3');
    const c = computeHostNetwork(input({ nets: [network()], vms: [onNet(), other, lost] }));
    expect(c.state.networks).toHaveLength(1);
    expect(c.state.ports.map((p) => p.tap)).toEqual([tapName(UID, 0), tapName('uid-2', 0)].sort());
    expect(computeHostNetwork(input({ nets: [network()], vms: [] })).state).toEqual({ networks: [], ports: [] });
  });

  test('a failed apply: the networks it names are not ready, a host-wide failure makes none ready', () => {
    const c = computeHostNetwork(input({ nets: [network(), network({ cidr: '10.30.0.0/24' }, undefined, 'b', 'uid-b')], vms: [
      vmObj({ networks: [{ name: 'lan', network: 'net' }, { name: 'b', network: 'b' }] }, { host: 'hv-1' }),
    ] }));
    expect(reportOf(c, new HostNetworkError([{ network: 'demo/b', message: 'boom' }])).map((r) => [r.network, r.ready, r.message])).toEqual([['demo/b', false, 'boom'], ['demo/net', true, undefined]]);
    expect(reportOf(c, new Error('nft failed')).every((r) => !r.ready && r.message === 'nft failed')).toBe(true);
  });

  test('ports: "22" and "8000-8100"; anything else is refused', () => {
    expect(parsePorts('22')).toEqual({ from: 22, to: 22 });
    expect(parsePorts('8000-8100')).toEqual({ from: 8000, to: 8100 });
    expect(parsePorts('0')).toBeUndefined();
    expect(parsePorts('9-8')).toBeUndefined();
    expect(parsePorts('http')).toBeUndefined();
  });
});

describe('configuration (STRATUS_NETWORK_*)', () => {
  test('defaults: auto backend, no namespace, no uplinks, the default route\'s address, repairs every minute, taps owned by root', () => {
    expect(loadAgentNetworkConfig({})).toEqual({ backend: 'auto', uplinks: [], repairMs: 60_000, tapOwner: 0 });
  });

  test('set from the environment; bad values named', () => {
    expect(loadAgentNetworkConfig({
      STRATUS_NETWORK_BACKEND: 'linux', STRATUS_NETWORK_NETNS: 'hv1', STRATUS_NETWORK_UPLINKS: ' eth1, bond0.100 ',
      STRATUS_NETWORK_ADDRESS: '192.0.2.10', STRATUS_NETWORK_REPAIR_MS: '5000', STRATUS_NETWORK_TAP_OWNER: '65534',
    })).toEqual({ backend: 'linux', netns: 'hv1', uplinks: ['eth1', 'bond0.100'], address: '192.0.2.10', repairMs: 5000, tapOwner: 65534 });
    expect(() => loadAgentNetworkConfig({ STRATUS_NETWORK_BACKEND: 'ovs' })).toThrow(/STRATUS_NETWORK_BACKEND/);
    expect(() => loadAgentNetworkConfig({ STRATUS_NETWORK_ADDRESS: 'fe80::1' })).toThrow(/STRATUS_NETWORK_ADDRESS must be an IPv4/);
    expect(() => loadAgentNetworkConfig({ STRATUS_NETWORK_UPLINKS: 'eth1,a b' })).toThrow(/STRATUS_NETWORK_UPLINKS/);
    expect(() => loadAgentNetworkConfig({ STRATUS_NETWORK_NETNS: '../x' })).toThrow(/STRATUS_NETWORK_NETNS/);
    expect(() => loadAgentNetworkConfig({ STRATUS_NETWORK_TAP_OWNER: 'nobody' })).toThrow(/STRATUS_NETWORK_TAP_OWNER/);
    expect(loadAgentConfig({ host: 'h' }, { STRATUS_NETWORK_BACKEND: 'none' }).network.backend).toBe('none');
  });
});
