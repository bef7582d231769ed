// Pluggable authentication: each authenticator recognizes its own kind of credential (system
// tokens by their prefix, JWTs by their shape, Basic credentials for LDAP) and either vouches for
// the user or refuses; a credential no authenticator recognizes is refused too.

import { UnauthorizedError } from '../../errors';
import type { Credentials } from './credentials';
import type { UserInfo } from './identity';

export interface Authenticator {
  readonly name: string;
  /**
   * undefined: not this authenticator's kind of credential; a user: valid; throws
   * UnauthorizedError: this authenticator's kind, but invalid (expired, revoked, bad signature...).
   */
  authenticate(credentials: Credentials): Promise<UserInfo | undefined>;
}

export class AuthenticatorChain {
  constructor(private readonly authenticators: Authenticator[]) {}

  get names(): string[] {
    return this.authenticators.map((a) => a.name);
  }

  /** The user behind the credentials; throws UnauthorizedError (never says which check failed). */
  async authenticate(credentials: Credentials): Promise<UserInfo> {
    if (credentials.type === 'none') throw new UnauthorizedError('Unauthorized');
    if (credentials.type === 'malformed') throw new UnauthorizedError('Unauthorized');
    for (const a of this.authenticators) {
      const user = await a.authenticate(credentials);
      if (user) return user;
    }
    throw new UnauthorizedError('Unauthorized');
  }
}
