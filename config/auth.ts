// Security settings of the API frontend (authentication, authorization, rate limits, audit, quota
// repair), read from the environment with documented defaults. Only config/ reads process.env.

import { int, type Env } from './env';

export interface OidcConfig {
  /** STRATUS_OIDC_ISSUER: the `iss` every token must carry (OIDC/JWT is off when unset) */
  issuer: string;
  /** STRATUS_OIDC_AUDIENCE: accepted `aud` values, comma-separated (required with an issuer) */
  audiences: string[];
  /** STRATUS_OIDC_JWKS_URL: the issuer's key set (fetched, cached, refreshed on unknown `kid`) */
  jwksUrl?: string;
  /** STRATUS_OIDC_JWKS_FILE: a local JWKS file instead of a URL */
  jwksFile?: string;
  /** STRATUS_OIDC_USERNAME_CLAIM: default sub */
  usernameClaim: string;
  /** STRATUS_OIDC_USERNAME_PREFIX: default "oidc:" ("-" for none), so IdP names never collide with local users */
  usernamePrefix: string;
  /** STRATUS_OIDC_GROUPS_CLAIM: default groups */
  groupsClaim: string;
  /** STRATUS_OIDC_GROUPS_PREFIX: default "oidc:" ("-" for none), so an IdP group never becomes stratus:admins by accident */
  groupsPrefix: string;
  /** STRATUS_OIDC_ALGORITHMS: default RS256,RS384,RS512,PS256,ES256,ES384,EdDSA */
  algorithms: string[];
  /** STRATUS_OIDC_CLOCK_SKEW_SEC: tolerance on exp/nbf/iat, default 30 */
  clockToleranceSec: number;
}

export interface LdapConfig {
  /** STRATUS_LDAP_URL: ldap://host:port or ldaps://host:port (LDAP is off when unset) */
  url: string;
  /** STRATUS_LDAP_USER_DN_TEMPLATE: e.g. uid={username},ou=people,dc=example,dc=org (direct bind) */
  userDnTemplate?: string;
  /** STRATUS_LDAP_BIND_DN / STRATUS_LDAP_BIND_PASSWORD: a service account for search-then-bind */
  bindDn?: string;
  bindPassword?: string;
  /** STRATUS_LDAP_USER_BASE / STRATUS_LDAP_USER_FILTER: where and how to find the user, default (uid={username}) */
  userBase?: string;
  userFilter: string;
  /** STRATUS_LDAP_GROUP_BASE: where groups are; no group lookup when unset */
  groupBase?: string;
  /** STRATUS_LDAP_GROUP_FILTER: default (|(member={dn})(uniqueMember={dn})(memberUid={username})) */
  groupFilter: string;
  /** STRATUS_LDAP_GROUP_ATTRIBUTE: the group's name, default cn */
  groupAttribute: string;
  /** STRATUS_LDAP_USERNAME_PREFIX / STRATUS_LDAP_GROUPS_PREFIX: default none */
  usernamePrefix: string;
  groupsPrefix: string;
  /** STRATUS_LDAP_STARTTLS=1: upgrade ldap:// with StartTLS */
  startTls: boolean;
  /** STRATUS_LDAP_CA: PEM file trusted for ldaps:// and StartTLS */
  caFile?: string;
  /** STRATUS_LDAP_TIMEOUT_MS: default 5000 */
  timeoutMs: number;
  /** STRATUS_LDAP_CACHE_MS: how long a successful bind is remembered, default 10000 (0: never) */
  cacheMs: number;
}

export interface AuthConfig {
  /** STRATUS_ADMIN_GROUPS: cluster administrators, default stratus:admins,system:masters */
  adminGroups: string[];
  /** STRATUS_MONITORING_GROUPS: may read /metrics besides admins, default stratus:monitoring */
  monitoringGroups: string[];
  /** STRATUS_TOKEN_CACHE_MS: how long a frontend trusts a token lookup (revocation delay on other frontends), default 5000 */
  tokenCacheMs: number;
  /** STRATUS_TOKEN_DEFAULT_TTL_SEC: default 86400 (24h) */
  tokenDefaultTtlSec: number;
  /** STRATUS_TOKEN_MAX_TTL_SEC: default 2592000 (30 days) */
  tokenMaxTtlSec: number;
  /** STRATUS_PROJECT_CACHE_MS: how long members and quotas of a Project are cached, default 2000 */
  projectCacheMs: number;
  oidc?: OidcConfig;
  ldap?: LdapConfig;
  /** STRATUS_RATE_LIMIT_QPS / STRATUS_RATE_LIMIT_BURST: per user and frontend, default 50 / 200; 0 disables */
  rateLimitQps: number;
  rateLimitBurst: number;
  /** STRATUS_AUTH_FAILURE_QPS / _BURST: failed authentications per credential presented (token, user name) and per client address, default 5 / 50; 0 disables */
  authFailureQps: number;
  authFailureBurst: number;
  /** STRATUS_AUDIT_TTL_SEC: how long audit records are kept, default 7776000 (90 days); 0 disables the audit log */
  auditTtlSec: number;
  /** STRATUS_QUOTA_RESYNC_MS: how often usage is recomputed from the objects, default 300000 */
  quotaResyncMs: number;
  /** STRATUS_QUOTA_GRACE_MS: age after which an unconfirmed reservation is considered abandoned, default 120000 */
  quotaGraceMs: number;
}


function list(env: Env, name: string, def: string[]): string[] {
  const v = env[name];
  if (v === undefined) return def;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function prefix(env: Env, name: string, def: string): string {
  const v = env[name];
  if (v === undefined || v === '') return def;
  return v === '-' ? '' : v;
}

function loadOidc(env: Env): OidcConfig | undefined {
  const issuer = env['STRATUS_OIDC_ISSUER'];
  if (!issuer) return undefined;
  const audiences = list(env, 'STRATUS_OIDC_AUDIENCE', []);
  if (audiences.length === 0) throw new Error('STRATUS_OIDC_AUDIENCE is required with STRATUS_OIDC_ISSUER');
  const jwksUrl = env['STRATUS_OIDC_JWKS_URL'] || undefined;
  const jwksFile = env['STRATUS_OIDC_JWKS_FILE'] || undefined;
  if (!jwksUrl && !jwksFile) throw new Error('STRATUS_OIDC_JWKS_URL or STRATUS_OIDC_JWKS_FILE is required with STRATUS_OIDC_ISSUER');
  return {
    issuer, audiences, jwksUrl, jwksFile,
    usernameClaim: env['STRATUS_OIDC_USERNAME_CLAIM'] || 'sub',
    usernamePrefix: prefix(env, 'STRATUS_OIDC_USERNAME_PREFIX', 'oidc:'),
    groupsClaim: env['STRATUS_OIDC_GROUPS_CLAIM'] || 'groups',
    groupsPrefix: prefix(env, 'STRATUS_OIDC_GROUPS_PREFIX', 'oidc:'),
    algorithms: list(env, 'STRATUS_OIDC_ALGORITHMS', ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']),
    clockToleranceSec: int(env, 'STRATUS_OIDC_CLOCK_SKEW_SEC', 30),
  };
}

function loadLdap(env: Env): LdapConfig | undefined {
  const url = env['STRATUS_LDAP_URL'];
  if (!url) return undefined;
  const userDnTemplate = env['STRATUS_LDAP_USER_DN_TEMPLATE'] || undefined;
  const bindDn = env['STRATUS_LDAP_BIND_DN'] || undefined;
  const userBase = env['STRATUS_LDAP_USER_BASE'] || undefined;
  if (!userDnTemplate && !(bindDn && userBase)) {
    throw new Error('STRATUS_LDAP_URL needs STRATUS_LDAP_USER_DN_TEMPLATE, or STRATUS_LDAP_BIND_DN and STRATUS_LDAP_USER_BASE');
  }
  if (userDnTemplate && !userDnTemplate.includes('{username}')) throw new Error('STRATUS_LDAP_USER_DN_TEMPLATE must contain {username}');
  return {
    url, userDnTemplate, bindDn, userBase,
    bindPassword: env['STRATUS_LDAP_BIND_PASSWORD'] || undefined,
    userFilter: env['STRATUS_LDAP_USER_FILTER'] || '(uid={username})',
    groupBase: env['STRATUS_LDAP_GROUP_BASE'] || undefined,
    groupFilter: env['STRATUS_LDAP_GROUP_FILTER'] || '(|(member={dn})(uniqueMember={dn})(memberUid={username}))',
    groupAttribute: env['STRATUS_LDAP_GROUP_ATTRIBUTE'] || 'cn',
    usernamePrefix: prefix(env, 'STRATUS_LDAP_USERNAME_PREFIX', ''),
    groupsPrefix: prefix(env, 'STRATUS_LDAP_GROUPS_PREFIX', ''),
    startTls: env['STRATUS_LDAP_STARTTLS'] === '1' || env['STRATUS_LDAP_STARTTLS'] === 'true',
    caFile: env['STRATUS_LDAP_CA'] || undefined,
    timeoutMs: int(env, 'STRATUS_LDAP_TIMEOUT_MS', 5000),
    cacheMs: int(env, 'STRATUS_LDAP_CACHE_MS', 10000),
  };
}

export function loadAuthConfig(env: Env = process.env): AuthConfig {
  const defaultTtl = int(env, 'STRATUS_TOKEN_DEFAULT_TTL_SEC', 86400);
  const maxTtl = int(env, 'STRATUS_TOKEN_MAX_TTL_SEC', 30 * 86400);
  if (defaultTtl > maxTtl) throw new Error('STRATUS_TOKEN_DEFAULT_TTL_SEC may not exceed STRATUS_TOKEN_MAX_TTL_SEC');
  return {
    adminGroups: list(env, 'STRATUS_ADMIN_GROUPS', ['stratus:admins', 'system:masters']),
    monitoringGroups: list(env, 'STRATUS_MONITORING_GROUPS', ['stratus:monitoring']),
    tokenCacheMs: int(env, 'STRATUS_TOKEN_CACHE_MS', 5000),
    tokenDefaultTtlSec: defaultTtl,
    tokenMaxTtlSec: maxTtl,
    projectCacheMs: int(env, 'STRATUS_PROJECT_CACHE_MS', 2000),
    oidc: loadOidc(env),
    ldap: loadLdap(env),
    rateLimitQps: int(env, 'STRATUS_RATE_LIMIT_QPS', 50),
    rateLimitBurst: int(env, 'STRATUS_RATE_LIMIT_BURST', 200),
    authFailureQps: int(env, 'STRATUS_AUTH_FAILURE_QPS', 5),
    authFailureBurst: int(env, 'STRATUS_AUTH_FAILURE_BURST', 50),
    auditTtlSec: int(env, 'STRATUS_AUDIT_TTL_SEC', 90 * 86400),
    quotaResyncMs: int(env, 'STRATUS_QUOTA_RESYNC_MS', 300_000),
    quotaGraceMs: int(env, 'STRATUS_QUOTA_GRACE_MS', 120_000),
  };
}
