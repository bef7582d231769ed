// Users and system bearer tokens in Cassandra. Tokens are random (256 bits) and stored only as
// their SHA-256: a stolen table does not let anyone in. Every token row expires by itself (TTL =
// its lifetime); revoking deletes it. Users rows are written only by lightweight transactions.

import { createHash, randomBytes } from 'node:crypto';
import { types, type Client } from 'cassandra-driver';
import { AlreadyExistsError, BadRequestError, NotFoundError } from '../../errors';
import { NAME_RE } from './identity';
import { rowsOf } from '../cql-paging';

export const TOKEN_PREFIX = 'stratus_';
const TOKEN_RE = /^stratus_[A-Za-z0-9_-]{43}$/;
const ID_RE = /^[a-f0-9]{12}$/;

export type TokenSource = 'local' | 'ldap' | 'oidc';

export interface UserRecord {
  name: string;
  groups: string[];
  disabled: boolean;
  description?: string;
  createdAt: string;
  createdBy?: string;
  /** bumped by every change (compare-and-set) */
  version: number;
}

export interface TokenRecord {
  id: string;
  user: string;
  /** for tokens of LDAP and OIDC users: their groups when the token was issued */
  groups: string[];
  source: TokenSource;
  expiresAt: string;
  createdAt: string;
  createdBy?: string;
  description?: string;
}

export interface IssuedToken extends TokenRecord {
  /** the secret itself: shown once, never stored */
  token: string;
}

export interface TokenStoreOptions {
  client: Client;
  keyspace: string;
  /** wall clock in ms; injectable for tests */
  clock?: () => number;
}

export function isSystemToken(token: string): boolean {
  return TOKEN_RE.test(token);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function checkName(what: 'user' | 'group', name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new BadRequestError(`invalid ${what} name ${JSON.stringify(name)}: letters, digits and ._@:+=- only, at most 128 characters`);
  }
  if (what === 'user' && name.startsWith('system:')) throw new BadRequestError(`user names starting with "system:" are reserved`);
  return name;
}

const SERIAL = { consistency: types.consistencies.localSerial };

export class TokenStore {
  private readonly client: Client;
  private readonly ks: string;
  private readonly clock: () => number;

  constructor(o: TokenStoreOptions) {
    this.client = o.client;
    this.ks = o.keyspace;
    this.clock = o.clock ?? Date.now;
  }

  // ---- users ----

  async createUser(u: { name: string; groups?: string[]; description?: string; createdBy?: string }): Promise<UserRecord> {
    const name = checkName('user', u.name);
    const groups = [...new Set((u.groups ?? []).map((g) => checkName('group', g)))].sort();
    const createdAt = new Date(this.clock());
    const rs = await this.client.execute(
      `INSERT INTO ${this.ks}.users (name, groups, disabled, description, created_at, created_by, version) VALUES (?, ?, false, ?, ?, ?, 1) IF NOT EXISTS`,
      [name, groups, u.description ?? null, createdAt, u.createdBy ?? null],
    );
    if (!rs.wasApplied()) throw new AlreadyExistsError(`users "${name}" already exists`, { name, kind: 'users' });
    return { name, groups, disabled: false, description: u.description, createdAt: createdAt.toISOString(), createdBy: u.createdBy, version: 1 };
  }

  async getUser(name: string, opts: { serial?: boolean } = {}): Promise<UserRecord | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    const rs = await this.client.execute(`SELECT * FROM ${this.ks}.users WHERE name = ?`, [name], opts.serial ? SERIAL : {});
    const row = rs.first();
    return row ? userOf(row) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for await (const row of rowsOf(this.client, `SELECT * FROM ${this.ks}.users`, [], { fetchSize: 500 })) {
      out.push(userOf(row));
      if (out.length >= 100_000) break;
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Changes groups, disabled or description; compare-and-set so concurrent admins don't lose changes. */
  async updateUser(name: string, change: { groups?: string[]; disabled?: boolean; description?: string }): Promise<UserRecord> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.getUser(name, { serial: true });
      if (!cur) throw new NotFoundError(`users "${name}" not found`, { name, kind: 'users' });
      const groups = change.groups ? [...new Set(change.groups.map((g) => checkName('group', g)))].sort() : cur.groups;
      const disabled = change.disabled ?? cur.disabled;
      const description = change.description ?? cur.description ?? null;
      const rs = await this.client.execute(
        `UPDATE ${this.ks}.users SET groups = ?, disabled = ?, description = ?, version = ? WHERE name = ? IF version = ?`,
        [groups, disabled, description, cur.version + 1, name, cur.version],
      );
      if (rs.wasApplied()) return { ...cur, groups, disabled, description: description ?? undefined, version: cur.version + 1 };
    }
    throw new BadRequestError(`users "${name}" is being changed by someone else; try again`);
  }

  /** Deletes a user and revokes every token of theirs. */
  async deleteUser(name: string): Promise<void> {
    const rs = await this.client.execute(`DELETE FROM ${this.ks}.users WHERE name = ? IF EXISTS`, [name]);
    if (!rs.wasApplied()) throw new NotFoundError(`users "${name}" not found`, { name, kind: 'users' });
    for (const t of await this.listTokens(name)) await this.revoke(t.id);
  }

  // ---- tokens ----

  async issueToken(t: { user: string; groups?: string[]; source: TokenSource; ttlSec: number; description?: string; createdBy?: string }): Promise<IssuedToken> {
    const ttl = Math.floor(t.ttlSec);
    if (!Number.isFinite(ttl) || ttl < 1) throw new BadRequestError('a token lifetime must be at least one second');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const hash = hashToken(token);
    const id = randomBytes(6).toString('hex');
    const now = this.clock();
    const createdAt = new Date(now);
    const expiresAt = new Date(now + ttl * 1000);
    const groups = [...new Set(t.groups ?? [])].sort();
    const description = t.description ?? null;
    const createdBy = t.createdBy ?? null;
    // A logged batch: the three rows land together or not at all.
    await this.client.batch([
      {
        query: `INSERT INTO ${this.ks}.tokens (hash, id, user, groups, source, expires_at, created_at, created_by, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [hash, id, t.user, groups, t.source, expiresAt, createdAt, createdBy, description, ttl],
      },
      {
        query: `INSERT INTO ${this.ks}.token_ids (id, hash, user, expires_at) VALUES (?, ?, ?, ?) USING TTL ?`,
        params: [id, hash, t.user, expiresAt, ttl],
      },
      {
        query: `INSERT INTO ${this.ks}.tokens_by_user (user, id, groups, source, expires_at, created_at, created_by, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [t.user, id, groups, t.source, expiresAt, createdAt, createdBy, description, ttl],
      },
    ], { prepare: true, logged: true });
    return {
      token, id, user: t.user, groups, source: t.source, expiresAt: expiresAt.toISOString(), createdAt: createdAt.toISOString(),
      createdBy: t.createdBy, description: t.description,
    };
  }

  /** The token behind a presented secret, if it exists and has not expired. */
  async lookup(token: string): Promise<TokenRecord | undefined> {
    if (!isSystemToken(token)) return undefined;
    const rs = await this.client.execute(`SELECT * FROM ${this.ks}.tokens WHERE hash = ?`, [hashToken(token)]);
    const row = rs.first();
    if (!row) return undefined;
    const rec = tokenOf(row);
    if (Date.parse(rec.expiresAt) <= this.clock()) return undefined;
    return rec;
  }

  /** Tokens of one user, or of everyone; never their secrets. */
  async listTokens(user?: string): Promise<TokenRecord[]> {
    const out: TokenRecord[] = [];
    const now = this.clock();
    if (user !== undefined) {
      const rs = await this.client.execute(`SELECT * FROM ${this.ks}.tokens_by_user WHERE user = ?`, [user], { fetchSize: 5000 });
      for (const row of rs.rows) out.push(tokenOf(row));
    } else {
      for await (const row of rowsOf(this.client, `SELECT * FROM ${this.ks}.tokens_by_user`, [], { fetchSize: 1000 })) {
        out.push(tokenOf(row));
        if (out.length >= 100_000) break;
      }
    }
    return out.filter((t) => Date.parse(t.expiresAt) > now).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Revokes a token by id; returns the revoked token, or undefined when there is none. */
  async revoke(id: string): Promise<TokenRecord | undefined> {
    if (!ID_RE.test(id)) return undefined;
    const rs = await this.client.execute(`SELECT * FROM ${this.ks}.token_ids WHERE id = ?`, [id]);
    const row = rs.first();
    if (!row) return undefined;
    const hash = row['hash'] as string;
    const user = row['user'] as string;
    const tok = await this.client.execute(`SELECT * FROM ${this.ks}.tokens WHERE hash = ?`, [hash]);
    await this.client.batch([
      { query: `DELETE FROM ${this.ks}.tokens WHERE hash = ?`, params: [hash] },
      { query: `DELETE FROM ${this.ks}.token_ids WHERE id = ?`, params: [id] },
      { query: `DELETE FROM ${this.ks}.tokens_by_user WHERE user = ? AND id = ?`, params: [user, id] },
    ], { prepare: true, logged: true });
    const t = tok.first();
    return t ? tokenOf(t) : { id, user, groups: [], source: 'local', expiresAt: (row['expires_at'] as Date).toISOString(), createdAt: '' };
  }
}

function userOf(row: types.Row): UserRecord {
  return {
    name: row['name'],
    groups: ((row['groups'] as string[] | null) ?? []).slice().sort(),
    disabled: !!row['disabled'],
    description: row['description'] ?? undefined,
    createdAt: row['created_at'] ? (row['created_at'] as Date).toISOString() : '',
    createdBy: row['created_by'] ?? undefined,
    version: row['version'] ?? 0,
  };
}

function tokenOf(row: types.Row): TokenRecord {
  return {
    id: row['id'],
    user: row['user'],
    groups: ((row['groups'] as string[] | null) ?? []).slice().sort(),
    source: (row['source'] ?? 'local') as TokenSource,
    expiresAt: (row['expires_at'] as Date).toISOString(),
    createdAt: row['created_at'] ? (row['created_at'] as Date).toISOString() : '',
    createdBy: row['created_by'] ?? undefined,
    description: row['description'] ?? undefined,
  };
}
