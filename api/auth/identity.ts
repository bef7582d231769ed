// Who is calling: the identity every authenticator produces and every authorizer reads.

/** Every authenticated user is in this group (as in Kubernetes). */
export const AUTHENTICATED_GROUP = 'system:authenticated';

export type AuthenticatorName = 'token' | 'oidc' | 'ldap';

export interface UserInfo {
  /** the user name project members refer to, e.g. "alice", "oidc:1234" */
  name: string;
  /** groups, including system:authenticated */
  groups: string[];
  /** which authenticator vouched for the user */
  authenticator: AuthenticatorName;
  /** the system token's id, when authenticated by one */
  tokenId?: string;
  /** for system tokens: who vouched for the user when the token was issued */
  source?: 'local' | 'ldap' | 'oidc';
}

/** User and group names: printable, no spaces or quotes, at most 128 characters. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@:+=-]{0,127}$/;

export function withAuthenticatedGroup(groups: Iterable<string>): string[] {
  const set = new Set(groups);
  set.add(AUTHENTICATED_GROUP);
  return [...set].sort();
}
