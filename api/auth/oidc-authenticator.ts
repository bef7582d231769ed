// OIDC / JWT bearer tokens: the signature is checked against the issuer's keys (a JWKS URL,
// fetched and cached by jose, or a local JWKS file), then issuer, audience, expiry and
// not-before; claims become the user name and groups, with configurable prefixes.

import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { OidcConfig } from '../../config/auth';
import { AuthUnavailableError, UnauthorizedError } from '../../errors';
import type { Authenticator } from './authenticator';
import type { Credentials } from './credentials';
import { NAME_RE, withAuthenticatedGroup, type UserInfo } from './identity';
import type { Clock } from '../../runtime';

const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface OidcAuthenticatorOptions {
  config: OidcConfig;
  logger?: Logger;
  /** wall clock in ms (expiry checks); injectable for tests */
  clock?: Clock;
}

export class OidcAuthenticator implements Authenticator {
  readonly name = 'oidc';
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly o: OidcAuthenticatorOptions) {
    const c = o.config;
    this.keys = c.jwksFile
      ? createLocalJWKSet(JSON.parse(readFileSync(c.jwksFile, 'utf8')))
      : createRemoteJWKSet(new URL(c.jwksUrl!), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  }

  async authenticate(c: Credentials): Promise<UserInfo | undefined> {
    if (c.type !== 'bearer' || !JWT_RE.test(c.token)) return undefined;
    const cfg = this.o.config;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(c.token, this.keys, {
        issuer: cfg.issuer,
        audience: cfg.audiences,
        algorithms: cfg.algorithms,
        clockTolerance: cfg.clockToleranceSec,
        currentDate: this.o.clock ? new Date(this.o.clock.now()) : undefined,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const providerDown = err instanceof joseErrors.JWKSTimeout || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID'
        || /^E[A-Z]+$/.test(code) || (code === 'ERR_JOSE_GENERIC' && /Key Set/i.test(String((err as Error).message)));
      if (providerDown) {
        this.o.logger?.warn({ err: String(err) }, 'the OIDC key set could not be fetched');
        throw new AuthUnavailableError('the identity provider could not be reached; try again');
      }
      this.o.logger?.debug({ reason: code || (err as Error).name }, 'JWT refused');
      throw new UnauthorizedError('Unauthorized');
    }
    const rawName = payload[cfg.usernameClaim];
    if (typeof rawName !== 'string' || rawName === '') throw new UnauthorizedError('Unauthorized');
    const name = cfg.usernamePrefix + rawName;
    if (!NAME_RE.test(name)) throw new UnauthorizedError('Unauthorized');
    const rawGroups = payload[cfg.groupsClaim];
    const groups = (Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === 'string' ? [rawGroups] : [])
      .filter((g): g is string => typeof g === 'string' && g !== '')
      .map((g) => cfg.groupsPrefix + g)
      .filter((g) => NAME_RE.test(g))
      .slice(0, 256);
    return { name, groups: withAuthenticatedGroup(groups), authenticator: 'oidc' };
  }
}
