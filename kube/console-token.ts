/**
 * The token a frontend gives a host's agent to open one VM's serial console, VNC display or console
 * log: an HS256 JWT signed with the cluster's console key (store/cluster-secrets.ts), for one host
 * (audience), one VM (subject: its uid), one channel, valid for at most a minute. Minted by the API
 * (api/console/), checked by the agent (agents/console/): the contract between the two.
 */
import { jwtVerify, SignJWT } from 'jose';
import { ForbiddenError, UnauthorizedError } from '../errors';

export type ConsoleChannel = 'serial' | 'vnc' | 'log';
export const CONSOLE_CHANNELS: readonly ConsoleChannel[] = ['serial', 'vnc', 'log'];

/** What a token lets its bearer open. */
export interface ConsoleGrant {
  /** the Host whose agent serves it */
  host: string;
  namespace: string;
  name: string;
  /** metadata.uid of the VM: a VM deleted and created again under the same name is another VM */
  uid: string;
  channel: ConsoleChannel;
  /** who asked (for the agent's log and events) */
  user?: string;
}

const ISSUER = 'stratus-api';
/** The longest a token lives; a frontend uses it at once, so it never needs long. */
export const CONSOLE_TOKEN_MAX_TTL_SEC = 60;
const ALG = 'HS256';

export const audienceOf = (host: string): string => `stratus-agent:${host}`;

/** A token for `grant`, valid from `nowSec` (seconds since the epoch) for `ttlSec` (at most 60). */
export async function mintConsoleToken(key: Uint8Array, grant: ConsoleGrant, o: { nowSec?: number; ttlSec?: number } = {}): Promise<string> {
  const now = o.nowSec ?? Math.floor(Date.now() / 1000);
  const ttl = Math.min(o.ttlSec ?? 30, CONSOLE_TOKEN_MAX_TTL_SEC);
  return new SignJWT({ ns: grant.namespace, name: grant.name, ch: grant.channel, ...(grant.user ? { user: grant.user } : {}) })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(audienceOf(grant.host))
    .setSubject(grant.uid)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(key);
}

/**
 * Checks `token` for one of `hosts` and returns what it grants. A token that is malformed, badly
 * signed, expired or minted for longer than a minute is a 401; a valid one for another host is a
 * 403 (the agent of that host is the one to ask).
 */
export async function verifyConsoleToken(key: Uint8Array, token: string, o: { hosts: readonly string[]; nowSec?: number }): Promise<ConsoleGrant> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [ALG], issuer: ISSUER, requiredClaims: ['aud', 'sub', 'exp', 'iat'],
      maxTokenAge: CONSOLE_TOKEN_MAX_TTL_SEC, clockTolerance: 5, currentDate: o.nowSec !== undefined ? new Date(o.nowSec * 1000) : undefined,
    }));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_JWT_EXPIRED') throw new UnauthorizedError('the console token has expired');
    throw new UnauthorizedError('the console token is not valid');
  }
  const p = payload as Record<string, unknown>;
  if (typeof p['exp'] !== 'number' || typeof p['iat'] !== 'number' || p['exp'] - p['iat'] > CONSOLE_TOKEN_MAX_TTL_SEC) {
    throw new UnauthorizedError(`the console token lives longer than ${CONSOLE_TOKEN_MAX_TTL_SEC}s`);
  }
  const aud = Array.isArray(p['aud']) ? p['aud'] : [p['aud']];
  const host = o.hosts.find((h) => aud.includes(audienceOf(h)));
  if (!host) throw new ForbiddenError('the console token is for another host');
  const channel = p['ch'];
  if (typeof p['ns'] !== 'string' || typeof p['name'] !== 'string' || typeof p['sub'] !== 'string' || !CONSOLE_CHANNELS.includes(channel as ConsoleChannel)) {
    throw new UnauthorizedError('the console token is not valid');
  }
  return {
    host, namespace: p['ns'], name: p['name'], uid: p['sub'], channel: channel as ConsoleChannel,
    ...(typeof p['user'] === 'string' ? { user: p['user'] } : {}),
  };
}

/** WebSocket close codes of console sessions, from the agent through the frontend to the client. */
export const CONSOLE_CLOSE = {
  /** the console ended: the domain stopped (or the agent stopped) */
  ended: 1000,
  /** another session of the same console took over (one interactive session at a time, as KubeVirt) */
  takenOver: 4001,
  /** the agent could not reach the console */
  unavailable: 4002,
} as const;
