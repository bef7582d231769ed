// The check of spec.cloudInit.sshAuthorizedKeys items (the x-stratus-ssh-public-key keyword): one
// OpenSSH public key line that sshd would use, parsed with sshpk. Pure.

import { parseKey } from 'sshpk';

/** Key types OpenSSH takes for FIDO security keys; sshpk does not parse them, so they are checked by shape. */
const SECURITY_KEY_TYPES = new Set(['sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com']);

/** The smallest RSA key OpenSSH (9.1 and later: RequiredRSASize) accepts. */
const MIN_RSA_BITS = 1024;

/** A security key line: its type, then base64 whose first SSH string is that type again. */
function securityKeyProblem(type: string, blob: string | undefined): string | undefined {
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return 'the key data must be base64';
  const raw = Buffer.from(blob, 'base64');
  const n = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (n < 0 || 4 + n > raw.length || raw.toString('latin1', 4, 4 + n) !== type) return `the key data is not a ${type} key`;
  return undefined;
}

/**
 * Why `line` is not an OpenSSH public key line ("TYPE BASE64 [COMMENT]") that sshd would accept,
 * or undefined when it is one. Surrounding white space is allowed; a line break inside is not (it
 * would add a line to authorized_keys).
 */
export function sshPublicKeyProblem(line: string): string | undefined {
  const text = line.trim();
  if (/[\r\n]/.test(text)) return 'must be one line holding one key';
  if (text.startsWith('-----BEGIN')) return 'must be a public key (this looks like a private key or a PEM file: use the .pub file)';
  const [type, blob] = text.split(/\s+/);
  if (SECURITY_KEY_TYPES.has(type)) return securityKeyProblem(type, blob);
  let key;
  try {
    key = parseKey(text, 'ssh');
  } catch (err) {
    const why = String((err as Error).message).replace(/^Failed to parse \(unnamed\) as a valid ssh format key: /, '').split('\n')[0];
    return `not an OpenSSH public key ("TYPE BASE64 [COMMENT]", as in ~/.ssh/id_ed25519.pub): ${why}`;
  }
  if (key.type === 'dsa') return 'ssh-dss (DSA) keys are refused by OpenSSH since version 7.0: use an ed25519, ecdsa or rsa key';
  if (key.type === 'rsa' && key.size < MIN_RSA_BITS) return `an RSA key must have at least ${MIN_RSA_BITS} bits, this one has ${key.size}`;
  return undefined;
}
