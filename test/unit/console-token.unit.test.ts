// Console tokens (kube/console-token.ts): what a frontend mints, an agent accepts, and what it refuses.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { mintConsoleToken, verifyConsoleToken, type ConsoleGrant } from '../../kube/console-token';

const key = randomBytes(32);
const grant: ConsoleGrant = { host: 'hv-1', namespace: 'demo', name: 'web', uid: 'u-1', channel: 'serial', user: 'alice' };
const NOW = 1_700_000_000;

test('a token minted for a host, VM and channel is accepted by that host and says what it grants', async () => {
  const t = await mintConsoleToken(key, grant, { nowSec: NOW });
  await expect(verifyConsoleToken(key, t, { hosts: ['hv-0', 'hv-1'], nowSec: NOW + 5 })).resolves.toEqual(grant);
});

test('expired, badly signed, malformed or too long-lived tokens are 401; another host\'s is 403', async () => {
  const t = await mintConsoleToken(key, grant, { nowSec: NOW, ttlSec: 30 });
  await expect(verifyConsoleToken(key, t, { hosts: ['hv-1'], nowSec: NOW + 40 })).rejects.toMatchObject({ status: 401, message: 'the console token has expired' });
  await expect(verifyConsoleToken(randomBytes(32), t, { hosts: ['hv-1'], nowSec: NOW })).rejects.toMatchObject({ status: 401 });
  await expect(verifyConsoleToken(key, 'not.a.token', { hosts: ['hv-1'], nowSec: NOW })).rejects.toMatchObject({ status: 401 });
  await expect(verifyConsoleToken(key, t, { hosts: ['hv-2'], nowSec: NOW })).rejects.toMatchObject({ status: 403, message: 'the console token is for another host' });
  // The TTL is capped at a minute when minting, and refused beyond it when checking.
  const capped = await mintConsoleToken(key, grant, { nowSec: NOW, ttlSec: 3600 });
  await expect(verifyConsoleToken(key, capped, { hosts: ['hv-1'], nowSec: NOW + 61 + 5 })).rejects.toMatchObject({ status: 401 });
  const long = await new SignJWT({ ns: 'demo', name: 'web', ch: 'serial' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('stratus-api')
    .setAudience('stratus-agent:hv-1').setSubject('u-1').setIssuedAt(NOW).setExpirationTime(NOW + 3600).sign(key);
  await expect(verifyConsoleToken(key, long, { hosts: ['hv-1'], nowSec: NOW + 1 })).rejects.toMatchObject({ status: 401 });
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ aud: 'stratus-agent:hv-1', sub: 'u-1' })).toString('base64url')}.`;
  await expect(verifyConsoleToken(key, none, { hosts: ['hv-1'], nowSec: NOW })).rejects.toMatchObject({ status: 401 });
});
