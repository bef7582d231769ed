// The cloud-init NoCloud seed's files (meta-data, user-data, network-config) and their hash; and the
// guest agent's channel.
import { parse } from 'yaml';
import { buildGuestAgentChannel, buildSeedFiles, seedHash } from '../../agents/domain';

const UID = '6f1c2a4e-8d3b-11ee-b9d1-0242ac120002';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtEkbm2p0p8oQX2m6D6fJm7Ql1Cq2i8h9yTtJYkVQ3s me@laptop';
const nics = [{ name: 'default', mac: '52:54:00:12:34:56' }, { name: 'lan', mac: '52:54:00:ab:cd:ef' }];

test('meta-data names the instance by the VM uid, the host by the VM name, and lists the keys', () => {
  const f = buildSeedFiles({ uid: UID, hostname: 'web-1', sshAuthorizedKeys: [`  ${KEY}\n`], nics });
  expect(parse(f['meta-data'])).toEqual({ 'instance-id': UID, 'local-hostname': 'web-1', 'public-keys': [KEY] });
  expect(buildSeedFiles({ uid: UID, hostname: 'web-1', nics })['meta-data']).not.toContain('public-keys');
});

test('without user data the guest gets an empty #cloud-config; with it, the text as given', () => {
  expect(buildSeedFiles({ uid: UID, hostname: 'a', nics })['user-data']).toBe('#cloud-config\n');
  const script = '#!/bin/sh\necho hi > /tmp/x\n';
  expect(buildSeedFiles({ uid: UID, hostname: 'a', userData: script, nics })['user-data']).toBe(script);
});

test('without networkData every interface gets DHCP, matched by its MAC, quoted for YAML 1.1 readers', () => {
  const f = buildSeedFiles({ uid: UID, hostname: 'a', nics });
  // PyYAML (YAML 1.1) reads an unquoted 52:54:00:12:34:56 as a base-60 number: MACs are always quoted.
  expect(f['network-config']).toContain('macaddress: "52:54:00:12:34:56"');
  expect(f['network-config']).toContain('macaddress: "52:54:00:ab:cd:ef"');
  expect(parse(f['network-config'])).toEqual({
    version: 2,
    ethernets: { default: { match: { macaddress: '52:54:00:12:34:56' }, dhcp4: true }, lan: { match: { macaddress: '52:54:00:ab:cd:ef' }, dhcp4: true } },
  });
  const own = 'version: 2\nethernets:\n  eth0:\n    dhcp4: false\n';
  expect(buildSeedFiles({ uid: UID, hostname: 'a', networkData: own, nics })['network-config']).toBe(own);
});

test('a host name YAML 1.1 would read as a boolean stays a string', () => {
  expect(buildSeedFiles({ uid: UID, hostname: 'no', nics })['meta-data']).toContain('local-hostname: "no"');
});

test('the hash follows every byte of every file, and only them', () => {
  const base = buildSeedFiles({ uid: UID, hostname: 'a', userData: 'x', nics });
  const h = seedHash(base);
  expect(h).toMatch(/^[0-9a-f]{64}$/);
  expect(seedHash(buildSeedFiles({ uid: UID, hostname: 'a', userData: 'x', nics }))).toBe(h);
  expect(seedHash(buildSeedFiles({ uid: UID, hostname: 'a', userData: 'y', nics }))).not.toBe(h);
  expect(seedHash(buildSeedFiles({ uid: UID, hostname: 'b', userData: 'x', nics }))).not.toBe(h);
  expect(seedHash(buildSeedFiles({ uid: UID, hostname: 'a', userData: 'x', sshAuthorizedKeys: [KEY], nics }))).not.toBe(h);
  // content moved from one file to the next (same bytes in a row) is a different seed
  expect(seedHash({ ...base, 'meta-data': base['meta-data'] + 'x', 'user-data': '' })).not.toBe(h);
});

test('the guest agent channel is a virtio port named org.qemu.guest_agent.0, at a given socket or one libvirt picks', () => {
  expect(buildGuestAgentChannel()).toBe("<channel type='unix'>\n  <target type='virtio' name='org.qemu.guest_agent.0'/>\n</channel>");
  expect(buildGuestAgentChannel('/s/demo.web/agent.sock')).toBe(
    "<channel type='unix'>\n  <source mode='bind' path='/s/demo.web/agent.sock'/>\n  <target type='virtio' name='org.qemu.guest_agent.0'/>\n</channel>");
});
