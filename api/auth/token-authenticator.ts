// System bearer tokens (`stratus_...`): looked up by SHA-256 in Cassandra, with a short in-memory
// cache so a busy client does not cost a read per request. A token of a local user takes the
// user's current groups (and fails when the user is disabled or deleted); a token issued to an
// LDAP or OIDC user carries the groups it was issued with.

import { UnauthorizedError } from '../../errors';
import type { Authenticator } from './authenticator';
import type { Credentials } from './credentials';
import { withAuthenticatedGroup, type UserInfo } from './identity';
import { hashToken, isSystemToken, TOKEN_PREFIX, type TokenStore } from './token-store';
import { systemClock, type Clock } from '../../runtime';

export interface TokenAuthenticatorOptions {
  tokens: TokenStore;
  /** how long a lookup is trusted; default 5000 ms (revocation on another frontend takes this long) */
  cacheMs?: number;
  /** at most this many cached tokens; default 10,000 */
  cacheMax?: number;
  clock?: Clock;
}

interface Cached { user: UserInfo; until: number; id: string; userName: string }

export class TokenAuthenticator implements Authenticator {
  readonly name = 'token';
  private readonly cache = new Map<string, Cached>();
  private readonly clock: Clock;

  constructor(private readonly o: TokenAuthenticatorOptions) {
    this.clock = o.clock ?? systemClock;
  }

  async authenticate(c: Credentials): Promise<UserInfo | undefined> {
    if (c.type !== 'bearer' || !c.token.startsWith(TOKEN_PREFIX)) return undefined;
    if (!isSystemToken(c.token)) throw new UnauthorizedError('Unauthorized');
    const now = this.clock.now();
    const hash = hashToken(c.token);
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.user;
    this.cache.delete(hash);
    const rec = await this.o.tokens.lookup(c.token);
    if (!rec) throw new UnauthorizedError('Unauthorized');
    let groups = rec.groups;
    if (rec.source === 'local') {
      const u = await this.o.tokens.getUser(rec.user);
      if (!u || u.disabled) throw new UnauthorizedError('Unauthorized');
      groups = u.groups;
    }
    const user: UserInfo = { name: rec.user, groups: withAuthenticatedGroup(groups), authenticator: 'token', tokenId: rec.id, source: rec.source };
    const cacheMs = this.o.cacheMs ?? 5000;
    if (cacheMs > 0) {
      if (this.cache.size >= (this.o.cacheMax ?? 10_000)) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(hash, { user, until: Math.min(now + cacheMs, Date.parse(rec.expiresAt)), id: rec.id, userName: rec.user });
    }
    return user;
  }

  /** Forgets cached lookups of a token (by id) or of every token of a user. */
  forget(by: { tokenId?: string; user?: string }): void {
    for (const [k, v] of this.cache) {
      if ((by.tokenId && v.id === by.tokenId) || (by.user && v.userName === by.user)) this.cache.delete(k);
    }
  }
}
