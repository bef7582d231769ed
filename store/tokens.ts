/**
 * Users and system bearer tokens in Cassandra (tables of store migration 4); the rules (names,
 * secrets, lifetimes, who may do what) live in api/auth/token-store.ts.
 *   users           (name)          written only by lightweight transactions (version)
 *   tokens          (hash)          by SHA-256 of the secret; every token row expires with its token (TTL)
 *   token_ids       (id)            id → hash, for revocation
 *   tokens_by_user  ((user), id)    a user's tokens, with the token that minted each (`parent`, migration 7)
 */
import { types, type Client } from 'cassandra-driver';
import { rowsOf } from './paging';

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
  /** the token (of the same user) whose request minted this one: revoked with it, never outlives it */
  parent?: string;
}

export interface TokenRepositoryOptions {
  client: Client;
  keyspace: string;
}

const SERIAL = { consistency: types.consistencies.localSerial };

export class TokenRepository {
  private readonly client: Client;
  private readonly ks: string;

  constructor(o: TokenRepositoryOptions) {
    this.client = o.client;
    this.ks = o.keyspace;
  }

  // ---- users ----

  /** Inserts a user at version 1 unless one exists; returns whether it did. */
  async insertUser(u: { name: string; groups: string[]; description?: string; createdAt: Date; createdBy?: string }): Promise<boolean> {
    const rs = await this.client.execute(
      `INSERT INTO ${this.ks}.users (name, groups, disabled, description, created_at, created_by, version) VALUES (?, ?, false, ?, ?, ?, 1) IF NOT EXISTS`,
      [u.name, u.groups, u.description ?? null, u.createdAt, u.createdBy ?? null],
    );
    return rs.wasApplied();
  }

  async getUser(name: string, opts: { serial?: boolean } = {}): Promise<UserRecord | undefined> {
    const rs = await this.client.execute(`SELECT * FROM ${this.ks}.users WHERE name = ?`, [name], opts.serial ? SERIAL : {});
    const row = rs.first();
    return row ? userOf(row) : undefined;
  }

  /** Every user, at most `max`. */
  async listUsers(max: number): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for await (const row of rowsOf(this.client, `SELECT * FROM ${this.ks}.users`, [], { fetchSize: 500 })) {
      out.push(userOf(row));
      if (out.length >= max) break;
    }
    return out;
  }

  /** Writes groups, disabled and description at `version` + 1 if the row is still at `version`. */
  async updateUser(name: string, version: number, u: { groups: string[]; disabled: boolean; description: string | null }): Promise<boolean> {
    const rs = await this.client.execute(
      `UPDATE ${this.ks}.users SET groups = ?, disabled = ?, description = ?, version = ? WHERE name = ? IF version = ?`,
      [u.groups, u.disabled, u.description, version + 1, name, version],
    );
    return rs.wasApplied();
  }

  /** Deletes a user; false when there was none. */
  async deleteUser(name: string): Promise<boolean> {
    const rs = await this.client.execute(`DELETE FROM ${this.ks}.users WHERE name = ? IF EXISTS`, [name]);
    return rs.wasApplied();
  }

  // ---- tokens ----

  /** Stores a token under the hash of its secret; its three rows land together and expire after `ttlSec`. */
  async insertToken(t: TokenRecord & { hash: string; ttlSec: number }): Promise<void> {
    const expiresAt = new Date(t.expiresAt);
    const createdAt = new Date(t.createdAt);
    const createdBy = t.createdBy ?? null;
    const description = t.description ?? null;
    // Unset rather than null: a null would write a tombstone in every row without a parent.
    const parent = t.parent ?? types.unset;
    // A logged batch: the three rows land together or not at all.
    await this.client.batch([
      {
        query: `INSERT INTO ${this.ks}.tokens (hash, id, user, groups, source, expires_at, created_at, created_by, description, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [t.hash, t.id, t.user, t.groups, t.source, expiresAt, createdAt, createdBy, description, parent, t.ttlSec],
      },
      {
        query: `INSERT INTO ${this.ks}.token_ids (id, hash, user, expires_at) VALUES (?, ?, ?, ?) USING TTL ?`,
        params: [t.id, t.hash, t.user, expiresAt, t.ttlSec],
      },
      {
        query: `INSERT INTO ${this.ks}.tokens_by_user (user, id, groups, source, expires_at, created_at, created_by, description, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [t.user, t.id, t.groups, t.source, expiresAt, createdAt, createdBy, description, parent, t.ttlSec],
      },
    ], { prepare: true, logged: true });
  }

  /** The token stored under a secret's hash (expired rows are gone by TTL; the caller checks expiresAt too). */
  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const rs = await this.client.execute(`SELECT * FROM ${this.ks}.tokens WHERE hash = ?`, [hash]);
    const row = rs.first();
    return row ? tokenOf(row) : undefined;
  }

  /** A token's owner and expiry by id (undefined once revoked or expired). */
  async tokenById(id: string): Promise<{ id: string; user: string; expiresAt: string } | undefined> {
    const rs = await this.client.execute(`SELECT user, expires_at FROM ${this.ks}.token_ids WHERE id = ?`, [id]);
    const row = rs.first();
    return row ? { id, user: row['user'] as string, expiresAt: (row['expires_at'] as Date).toISOString() } : undefined;
  }

  /** Tokens of one user, or of everyone (at most `max`); never their secrets. */
  async listTokens(user: string | undefined, max: number): Promise<TokenRecord[]> {
    const out: TokenRecord[] = [];
    if (user !== undefined) {
      const rs = await this.client.execute(`SELECT * FROM ${this.ks}.tokens_by_user WHERE user = ?`, [user], { fetchSize: 5000 });
      for (const row of rs.rows) out.push(tokenOf(row));
      return out;
    }
    for await (const row of rowsOf(this.client, `SELECT * FROM ${this.ks}.tokens_by_user`, [], { fetchSize: 1000 })) {
      out.push(tokenOf(row));
      if (out.length >= max) break;
    }
    return out;
  }

  /** Deletes a token by id; returns it, or undefined when there is none. */
  async deleteToken(id: string): Promise<TokenRecord | undefined> {
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
    ...(row['parent'] ? { parent: row['parent'] as string } : {}),
  };
}
