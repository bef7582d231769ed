// LDAP: HTTP Basic credentials are checked by a simple bind against the directory, as the user's
// DN (from a template, or found by a service account's search); groups come from a search of the
// group base. Successful binds are remembered briefly (keyed by an HMAC of the credentials with a
// per-process key, never the password itself), so a CLI session does not bind on every request.

import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, InvalidCredentialsError } from 'ldapts';
import type { Logger } from 'pino';
import type { LdapConfig } from '../../config/auth';
import { AuthUnavailableError, UnauthorizedError } from '../../errors';
import type { Authenticator } from './authenticator';
import type { Credentials } from './credentials';
import { NAME_RE, withAuthenticatedGroup, type UserInfo } from './identity';
import { systemClock, type Clock } from '../../runtime';

/** What may be typed as an LDAP user name: no filter or DN metacharacters at all. */
const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const MAX_PASSWORD = 1024;

export interface LdapAuthenticatorOptions {
  config: LdapConfig;
  logger?: Logger;
  clock?: Clock;
}

/** RFC 4515: escapes a value inside a search filter. */
export function escapeFilter(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** RFC 4514: escapes a value inside a DN attribute. */
export function escapeDn(v: string): string {
  return v.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; name?: string; message?: string };
  return (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) || /timeout|timed out|connect|socket/i.test(String(e.message ?? ''));
}

export class LdapAuthenticator implements Authenticator {
  readonly name = 'ldap';
  private readonly cache = new Map<string, { user: UserInfo; until: number }>();
  private readonly key = randomBytes(32);
  private readonly clock: Clock;
  private readonly ca?: Buffer;

  constructor(private readonly o: LdapAuthenticatorOptions) {
    this.clock = o.clock ?? systemClock;
    if (o.config.caFile) this.ca = readFileSync(o.config.caFile);
  }

  async authenticate(c: Credentials): Promise<UserInfo | undefined> {
    if (c.type !== 'basic') return undefined;
    // An empty password would be an anonymous ("unauthenticated") bind, which succeeds: refuse it.
    if (!USERNAME_RE.test(c.username) || c.password === '' || c.password.length > MAX_PASSWORD) throw new UnauthorizedError('Unauthorized');
    const now = this.clock.now();
    const cacheKey = createHmac('sha256', this.key).update(`${c.username}\0${c.password}`).digest('hex');
    const hit = this.cache.get(cacheKey);
    if (hit && hit.until > now) return hit.user;
    this.cache.delete(cacheKey);
    const user = await this.bind(c.username, c.password);
    if (this.o.config.cacheMs > 0) {
      if (this.cache.size >= 10_000) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(cacheKey, { user, until: now + this.o.config.cacheMs });
    }
    return user;
  }

  private client(): Client {
    const cfg = this.o.config;
    return new Client({
      url: cfg.url,
      timeout: cfg.timeoutMs,
      connectTimeout: cfg.timeoutMs,
      tlsOptions: this.ca ? { ca: [this.ca] } : undefined,
      strictDN: true,
    });
  }

  private async bind(username: string, password: string): Promise<UserInfo> {
    const cfg = this.o.config;
    const client = this.client();
    try {
      if (cfg.startTls) await client.startTLS(this.ca ? { ca: [this.ca] } : {});
      let dn: string;
      if (cfg.userDnTemplate) {
        dn = cfg.userDnTemplate.replace('{username}', escapeDn(username));
      } else {
        await client.bind(cfg.bindDn!, cfg.bindPassword ?? '');
        const { searchEntries } = await client.search(cfg.userBase!, {
          scope: 'sub', filter: cfg.userFilter.split('{username}').join(escapeFilter(username)), attributes: ['dn'], sizeLimit: 2,
        });
        if (searchEntries.length !== 1) throw new UnauthorizedError('Unauthorized');
        dn = searchEntries[0].dn;
      }
      await client.bind(dn, password);
      const groups: string[] = [];
      if (cfg.groupBase) {
        if (cfg.bindDn && !cfg.userDnTemplate) await client.bind(cfg.bindDn, cfg.bindPassword ?? '');
        const filter = cfg.groupFilter.split('{dn}').join(escapeFilter(dn)).split('{username}').join(escapeFilter(username));
        const { searchEntries } = await client.search(cfg.groupBase, { scope: 'sub', filter, attributes: [cfg.groupAttribute], sizeLimit: 1000 });
        for (const e of searchEntries) {
          const v = e[cfg.groupAttribute];
          for (const g of Array.isArray(v) ? v : [v]) {
            const name = cfg.groupsPrefix + String(g);
            if (typeof g === 'string' && NAME_RE.test(name)) groups.push(name);
          }
        }
      }
      return { name: cfg.usernamePrefix + username, groups: withAuthenticatedGroup(groups), authenticator: 'ldap' };
    } catch (err) {
      if (err instanceof UnauthorizedError || err instanceof InvalidCredentialsError || (err as { code?: unknown }).code === 49) {
        throw new UnauthorizedError('Unauthorized');
      }
      if (isConnectionError(err)) {
        this.o.logger?.warn({ err: (err as Error).message }, 'the LDAP directory could not be reached');
        throw new AuthUnavailableError('the directory could not be reached; try again');
      }
      this.o.logger?.info({ err: (err as Error).message, user: username }, 'LDAP authentication failed');
      throw new UnauthorizedError('Unauthorized');
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}
