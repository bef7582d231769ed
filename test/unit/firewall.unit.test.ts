// Security groups, pure: the nft transaction built from the ports of a host (agents/network/firewall.ts).
// When nft and root are there, every ruleset is also checked by the kernel with `nft -c` (nothing is applied).
import { firewallRuleset } from '../../agents/network/firewall';
import { runIn } from '../../agents/network/exec';
import type { FirewallPort } from '../../agents/network/types';
import { describeIfAvailable } from '../helpers/prerequisites';
import { execFileSync } from 'node:child_process';

const A: FirewallPort = { tap: 'stt-aaaaaaaaaa', mac: '52:54:00:00:00:0a', address: '10.77.0.2', ingress: [], egress: 'all' };
const B: FirewallPort = {
  tap: 'stt-bbbbbbbbbb', mac: '52:54:00:00:00:0B', address: '10.77.0.3',
  ingress: [
    { protocol: 'tcp', ports: { from: 8080, to: 8080 }, cidrs: ['10.77.0.2/32', '10.77.0.0/24', '10.77.0.5'] },
    { protocol: 'udp', ports: { from: 8000, to: 8100 }, cidrs: ['192.168.1.77/24', '10.0.0.0/8'] },
    { protocol: 'icmp', cidrs: ['0.0.0.0/0'] },
    { protocol: 'any', cidrs: ['10.77.0.1'] },
    { protocol: 'tcp', cidrs: [] },
  ],
  egress: [{ protocol: 'udp', ports: { from: 53, to: 53 }, cidrs: ['9.9.9.9'] }],
};

/** the lines of one chain of the ruleset, trimmed */
function chainOf(text: string, name: string): string[] {
  const m = new RegExp(`chain ${name} \\{\\n([\\s\\S]*?)\\n  \\}`).exec(text);
  if (!m) throw new Error(`no chain ${name} in\n${text}`);
  return m[1].split('\n').map((l) => l.trim());
}

test('no ports: the transaction only removes the table, and works when it is absent (add then delete)', () => {
  expect(firewallRuleset([], { conntrack: false })).toBe('add table bridge stratus-fw\ndelete table bridge stratus-fw\n');
});

test('the table is replaced atomically and VM interfaces are dispatched by verdict maps on every hook', () => {
  const text = firewallRuleset([B, A], { conntrack: false });
  expect(text.startsWith('add table bridge stratus-fw\ndelete table bridge stratus-fw\ntable bridge stratus-fw {\n')).toBe(true);
  expect(chainOf(text, 'prerouting')).toEqual([
    'type filter hook prerouting priority -200; policy accept;',
    'iifname vmap { "stt-aaaaaaaaaa" : jump eg-stt-aaaaaaaaaa, "stt-bbbbbbbbbb" : jump eg-stt-bbbbbbbbbb }',
  ]);
  for (const hook of ['forward', 'output']) {
    expect(chainOf(text, hook)).toEqual([
      `type filter hook ${hook} priority -200; policy accept;`,
      'oifname vmap { "stt-aaaaaaaaaa" : jump in-stt-aaaaaaaaaa, "stt-bbbbbbbbbb" : jump in-stt-bbbbbbbbbb }',
    ]);
  }
});

test('traffic from a VM must carry its MAC and address (ARP and DHCP client allowed), then egress decides', () => {
  const text = firewallRuleset([A, B], { conntrack: false });
  expect(chainOf(text, 'eg-stt-aaaaaaaaaa')).toEqual([
    'ether saddr != 52:54:00:00:00:0a drop',
    'arp saddr ether != 52:54:00:00:00:0a drop',
    'arp saddr ip != 10.77.0.2 drop',
    'ether type arp accept',
    'ether type != ip drop',
    'udp sport 67 drop',
    'ip saddr { 0.0.0.0, 10.77.0.2 } udp sport 68 udp dport 67 accept',
    'ip saddr != 10.77.0.2 drop',
    'accept',
  ]);
  const eg = chainOf(text, 'eg-stt-bbbbbbbbbb');
  expect(eg[0]).toBe('ether saddr != 52:54:00:00:00:0b drop');
  expect(eg.slice(-2)).toEqual(['ip daddr { 9.9.9.9 } udp dport 53 accept', 'drop']);
});

test('without an address only the MAC is enforced', () => {
  const text = firewallRuleset([{ ...A, address: undefined }], { conntrack: false });
  const eg = chainOf(text, 'eg-stt-aaaaaaaaaa');
  expect(eg.some((l) => l.includes('ip saddr !='))).toBe(false);
  expect(eg).toContain('udp sport 68 udp dport 67 accept');
  expect(eg).toContain('ether saddr != 52:54:00:00:00:0a drop');
});

test('ingress: ARP, DHCP replies, stateless replies, then the rules (overlaps merged, empty rules dropped), then drop', () => {
  const text = firewallRuleset([B], { conntrack: false });
  expect(chainOf(text, 'in-stt-bbbbbbbbbb')).toEqual([
    'ether type arp accept',
    'ether type != ip drop',
    'udp sport 67 udp dport 68 accept',
    'tcp flags & (syn | ack) != syn accept',
    'icmp type { echo-reply, destination-unreachable, time-exceeded } accept',
    'udp sport { 53, 67, 68, 123 } accept',
    'ip saddr { 10.77.0.0/24 } tcp dport 8080 accept',
    'ip saddr { 10.0.0.0/8, 192.168.1.0/24 } udp dport 8000-8100 accept',
    'ip protocol icmp accept',
    'ip saddr { 10.77.0.1 } accept',
    'drop',
  ]);
  // a VM with no ingress rule accepts only ARP, DHCP and replies
  expect(chainOf(firewallRuleset([A], { conntrack: false }), 'in-stt-aaaaaaaaaa').slice(-2))
    .toEqual(['udp sport { 53, 67, 68, 123 } accept', 'drop']);
});

test('with bridge conntrack, replies are matched by connection state instead', () => {
  const text = firewallRuleset([B], { conntrack: true });
  const ing = chainOf(text, 'in-stt-bbbbbbbbbb');
  expect(ing).toContain('ct state established,related accept');
  expect(ing.some((l) => l.startsWith('tcp flags'))).toBe(false);
});

test('invalid input is refused with a clear error, never written into nft text', () => {
  const bad: Array<[Partial<FirewallPort>, RegExp]> = [
    [{ tap: 'eth0' }, /invalid interface name "eth0"/],
    [{ tap: 'stt-aaaaaaaaaa"; flush ruleset' }, /invalid interface name/],
    [{ mac: '52:54:00:00:00' }, /invalid MAC/],
    [{ address: '10.0.0.300' }, /not an IPv4 address/],
    [{ ingress: [{ protocol: 'tcp', cidrs: ['10.0.0.0/33'] }] }, /not an IPv4 CIDR/],
    [{ ingress: [{ protocol: 'tcp', cidrs: ['::/0'] }] }, /not an IPv4 CIDR/],
    [{ ingress: [{ protocol: 'tcp', cidrs: ['10.0.0.0/8 } accept; #'] }] }, /not an IPv4 CIDR/],
    [{ ingress: [{ protocol: 'icmp', ports: { from: 1, to: 2 }, cidrs: [] }] }, /has ports but protocol icmp/],
    [{ ingress: [{ protocol: 'tcp', ports: { from: 90, to: 80 }, cidrs: [] }] }, /invalid ports/],
    [{ ingress: [{ protocol: 'tcp', ports: { from: 0, to: 80 }, cidrs: [] }] }, /invalid ports/],
    [{ egress: [{ protocol: 'sctp' as never, cidrs: [] }] }, /invalid protocol "sctp"/],
  ];
  for (const [patch, message] of bad) {
    expect(() => firewallRuleset([{ ...A, ...patch }], { conntrack: false })).toThrow(message);
  }
  expect(() => firewallRuleset([A, { ...B, tap: A.tap }], { conntrack: false })).toThrow(/listed twice/);
});

test('hundreds of ports keep a small ruleset: a fixed number of lines per port and rule', () => {
  const ports: FirewallPort[] = Array.from({ length: 500 }, (_, i) => ({
    ...B, tap: `stt-${i.toString(16).padStart(10, '0')}`, address: `10.${i >> 8}.${i & 255}.9`,
  }));
  const text = firewallRuleset(ports, { conntrack: false });
  expect(text.split('\n').length).toBeLessThan(500 * 35);
  expect(text.length).toBeLessThan(500 * 1500);
});

function nftMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (nft -c talks to the kernel)';
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'nft not found: install the Debian package nftables';
  }
  return undefined;
}

describeIfAvailable('firewall.unit.test.ts', nftMissing())('the kernel accepts the rulesets (nft -c)', () => {
  test('stateless rulesets, an empty one, and a large one pass `nft -c -f`', async () => {
    const many: FirewallPort[] = Array.from({ length: 300 }, (_, i) => ({
      ...B, tap: `stt-${i.toString(16).padStart(10, '0')}`, address: `10.1.${i >> 8}.${i & 255}`,
    }));
    for (const ports of [[], [A, B], [{ ...A, address: undefined }], many]) {
      const { stdout } = await runIn(undefined, 'nft', ['-c', '-f', '-'], { input: firewallRuleset(ports, { conntrack: false }) });
      expect(stdout).toBe('');
    }
  });

  test('a syntax error is reported with the command and nft\'s message', async () => {
    await expect(runIn(undefined, 'nft', ['-c', '-f', '-'], { input: 'table bridge stratus-fw { chain x { bogus } }\n' }))
      .rejects.toThrow(/nft -c -f - failed: .*Error/);
  });
});
