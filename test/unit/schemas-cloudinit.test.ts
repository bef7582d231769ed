// spec.cloudInit validation: OpenSSH public keys (sshpk), network-config v2 documents, user data
// size; each refusal names the field, as a 422 would.
import { Validator } from '../../schemas/validate';
import { sshPublicKeyProblem } from '../../schemas/ssh-key';
import { networkConfigProblem } from '../../schemas/network-config';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINIVfS0Zq4I/LrkWSBVdQMr4XKZ2WD63baShgRR2gelt alice@laptop';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDOXqoNuDDDU27qrhk8eD8PAYWJPPyI86pZkUSLv7a5HtpOpV59WYriXAJNDInKXekUZWYTm7CDN8y4ATeRq8BU= carol';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDOxuclAWdblWi9hx8ZPjArGHKypHkzFwr2/KTmxCPtBy2yvQVZqzxyWhaQQ2qWXUgOtRMoBb9zEdTiA4Nsrjx6N8qmS4ALLU45Huya59HJa0uW2YiRF1JeezB2EX5BrDj8YeRWjWZHms8niHyp7NKllOCzIRJrwfhr92s9UbGPwHqfT8gq77TJMUETEeECgncg2xKwuexFJpUqX+nqi6nlhhmjV/kh+hovTtd3/e9xHeX05GrTUYFsiZtS/7Ody1SAvi88Sh8i/dzUQqoH9jtA4MzFF/Mx4KJ3lsSPqxnB3bODD/4N/SM3B6RmRSEfFJVboIxxwgs0AlPZi8UvYfG9 bob';
const DSA = 'ssh-dss AAAAB3NzaC1kc3MAAACBAN6pLgOToPD5W+FqRHmlSntPW/hdPXT7GWmtmnYVGFhMYJ6P9vZfWWX7DGqL5kR/JLc4SqnwNQY+l6XhYPNQlUhWU4BBQ6dk/SGv38U4tCLvYShEub9si2F95QtkQ+2B9FQmtQ0rDbimNJDDlSfn2XXawhG+nu9wippZ8LMBGEc5AAAAFQDRjsAWexb/uuU5p8uFEkZCdzgKVwAAAIBfgwygYIbXJcyODGF4DhrhCo78PIQ4PT0YNwPPlP+Lom4viT0JKEys1QwAuxmZuS3sSQLtzpX2DP9V/7yVORz+NAnSCphwPs06IG/9ypOIhZqjfCdEm/X2FsBsw501kVe1Cm2sPLoPfT/zsJd2h6HcFukEDO4S4cLaGR95/pxB4wAAAIEA0gCuOI1Zc/Hl06MXHjwgTx6MbDPoARzrt2eF1JsZZFS69rlPKPTMosfoOtsoPUzm3jGGl6rik3R3oPya4vXVMvaO9mD0lwU3OqcxpchqjsePB4v7SWDNEF2WQV/AQF1WlpCwKczAmROn+SXlPCbhpKAncy1gnVrZUzbVqL6SAcA= dave';

/** An ssh-rsa line with a modulus of `bits` bits (OpenSSH refuses fewer than 1024). */
function rsaLine(bits: number): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, (b.length >> 8) & 255, b.length & 255]), b]);
  const n = Buffer.concat([Buffer.from([0, 0xc1]), Buffer.alloc(bits / 8 - 1, 0x55)]);
  return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), str(Buffer.from([1, 0, 1])), str(n)]).toString('base64')} tiny`;
}

const validator = new Validator();
function causes(cloudInit: Record<string, unknown>) {
  return validator.validate('VirtualMachine', {
    apiVersion: 'stratuslab.eu/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web', namespace: 'demo' },
    spec: { cpu: 1, memory: '1Gi', cloudInit },
  }).causes;
}

test('ed25519, ecdsa and rsa keys as in ~/.ssh/*.pub are accepted, with or without comment and trailing newline', () => {
  for (const k of [ED25519, ECDSA, RSA, ED25519.split(' ').slice(0, 2).join(' '), `${ED25519}\n`]) expect(sshPublicKeyProblem(k)).toBeUndefined();
  expect(causes({ sshAuthorizedKeys: [ED25519, ECDSA, RSA] })).toEqual([]);
});

test('FIDO security keys (sk-ssh-ed25519@openssh.com), which sshpk does not parse, are checked by shape', () => {
  const blob = (type: string) => {
    const t = Buffer.from(type);
    return Buffer.concat([Buffer.from([0, 0, 0, t.length]), t, Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64');
  };
  expect(sshPublicKeyProblem(`sk-ssh-ed25519@openssh.com ${blob('sk-ssh-ed25519@openssh.com')} yubikey`)).toBeUndefined();
  expect(sshPublicKeyProblem(`sk-ssh-ed25519@openssh.com ${blob('ssh-ed25519')}`)).toMatch(/not a sk-ssh-ed25519/);
  expect(sshPublicKeyProblem('sk-ssh-ed25519@openssh.com !!!')).toMatch(/base64/);
});

test('each bad key is refused at its own index with the reason', () => {
  const c = causes({ sshAuthorizedKeys: [ED25519, 'ssh-rsa AAAA not-a-key', DSA, rsaLine(768), '-----BEGIN OPENSSH PRIVATE KEY-----', `${ED25519}\n${ECDSA}`, 'hello'] });
  expect(c.map((x) => x.field)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `spec.cloudInit.sshAuthorizedKeys[${i}]`));
  expect(c.every((x) => x.reason === 'FieldValueInvalid')).toBe(true);
  expect(c[0].message).toMatch(/^Invalid value: "ssh-rsa AAAA not-a-key": not an OpenSSH public key/);
  expect(c[1].message).toMatch(/DSA\) keys are refused by OpenSSH/);
  expect(c[2].message).toMatch(/at least 1024 bits, this one has 768/);
  expect(c[3].message).toMatch(/must be a public key/);
  expect(c[4].message).toMatch(/one line holding one key/);
  expect(causes({ sshAuthorizedKeys: Array(33).fill(ED25519) })).toEqual([expect.objectContaining({ field: 'spec.cloudInit.sshAuthorizedKeys', message: expect.stringMatching(/at most 32 items/) })]);
  expect(causes({ sshAuthorizedKeys: [''] })[0].field).toBe('spec.cloudInit.sshAuthorizedKeys[0]');
});

test('user data over 64 KiB is refused naming the field, without echoing it', () => {
  const c = causes({ userData: `#cloud-config\n# secret-token-123\n${'x'.repeat(65536)}` });
  expect(c).toEqual([{ field: 'spec.cloudInit.userData', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 65536 bytes' }]);
  expect(causes({ userData: 'x'.repeat(65536) })).toEqual([]);
});

test('networkData must be a network-config version 2 document', () => {
  expect(networkConfigProblem('version: 2\nethernets:\n  eth0:\n    dhcp4: true\n')).toBeUndefined();
  expect(networkConfigProblem('network:\n  version: 2\n  ethernets: {}\n')).toBeUndefined();
  expect(networkConfigProblem('version: 1\nconfig: []\n')).toMatch(/version: 2/);
  expect(networkConfigProblem('- a\n- b\n')).toMatch(/mapping/);
  expect(networkConfigProblem('version: [2\n')).toMatch(/^not valid YAML/);
  expect(networkConfigProblem('a: 1\na: 2\nversion: 2\n')).toMatch(/^not valid YAML/);
  expect(causes({ networkData: 'version: 1' })).toEqual([{ field: 'spec.cloudInit.networkData', reason: 'FieldValueInvalid', message: 'Invalid value: must say version: 2 (cloud-init network-config version 2)' }]);
});
