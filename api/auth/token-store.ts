// Users and system bearer tokens: the rules. Tokens are random (256 bits), stored only as SHA-256,
// expire by TTL; one minted with a token never outlives it and is revoked with it. Rows: store/tokens.ts.

import { createHash, randomBytes } from 'node:crypto';
import { AlreadyExistsError, BadRequestError, NotFoundError, UnauthorizedError } from '../../errors';
import type { TokenRecord, TokenRepository, TokenSource, UserRecord } from '../../store/tokens';
import { NAME_RE } from './identity';
import { systemClock, type Clock } from '../../runtime';

export type { TokenRecord, TokenSource, UserRecord } from '../../store/tokens';

export const TOKEN_PREFIX = 'stratus_';
const TOKEN_RE = /^stratus_[A-Za-z0-9_-]{43}$/;
const ID_RE = /^[a-f0-9]{12}$/;

export interface IssuedToken extends TokenRecord {
  /** the secret itself: shown once, never stored */
  token: string;
}

export interface TokenStoreOptions {
  /** the users and tokens tables */
  repository: TokenRepository;
  /** wall clock in ms; injectable for tests */
  clock?: Clock;
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

const MAX_LISTED = 100_000;

export class TokenStore {
  private readonly rows: TokenRepository;
  private readonly clock: Clock;

  constructor(o: TokenStoreOptions) {
    this.rows = o.repository;
    this.clock = o.clock ?? systemClock;
  }

  // ---- users ----

  async createUser(u: { name: string; groups?: string[]; description?: string; createdBy?: string }): Promise<UserRecord> {
    const name = checkName('user', u.name);
    const groups = [...new Set((u.groups ?? []).map((g) => checkName('group', g)))].sort();
    const createdAt = new Date(this.clock.now());
    if (!(await this.rows.insertUser({ name, groups, description: u.description, createdAt, createdBy: u.createdBy }))) {
      throw new AlreadyExistsError(`users "${name}" already exists`, { name, kind: 'users' });
    }
    return { name, groups, disabled: false, description: u.description, createdAt: createdAt.toISOString(), createdBy: u.createdBy, version: 1 };
  }

  async getUser(name: string, opts: { serial?: boolean } = {}): Promise<UserRecord | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    return this.rows.getUser(name, opts);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.rows.listUsers(MAX_LISTED)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Changes groups, disabled or description; compare-and-set so concurrent admins don't lose changes. */
  async updateUser(name: string, change: { groups?: string[]; disabled?: boolean; description?: string }): Promise<UserRecord> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.getUser(name, { serial: true });
      if (!cur) throw new NotFoundError(`users "${name}" not found`, { name, kind: 'users' });
      const groups = change.groups ? [...new Set(change.groups.map((g) => checkName('group', g)))].sort() : cur.groups;
      const disabled = change.disabled ?? cur.disabled;
      const description = change.description ?? cur.description ?? null;
      if (await this.rows.updateUser(name, cur.version, { groups, disabled, description })) {
        return { ...cur, groups, disabled, description: description ?? undefined, version: cur.version + 1 };
      }
    }
    throw new BadRequestError(`users "${name}" is being changed by someone else; try again`);
  }

  /** Deletes a user and revokes every token of theirs. */
  async deleteUser(name: string): Promise<void> {
    if (!(await this.rows.deleteUser(name))) throw new NotFoundError(`users "${name}" not found`, { name, kind: 'users' });
    for (const t of await this.listTokens(name)) await this.revoke(t.id);
  }

  // ---- tokens ----

  /**
   * Issues a token. With `parent` (the token whose request mints this one, of the same user) the
   * new token expires no later than its parent and is revoked with it; 401 when the parent is gone.
   */
  async issueToken(t: { user: string; groups?: string[]; source: TokenSource; ttlSec: number; description?: string; createdBy?: string; parent?: string }): Promise<IssuedToken> {
    let ttl = Math.floor(t.ttlSec);
    if (!Number.isFinite(ttl) || ttl < 1) throw new BadRequestError('a token lifetime must be at least one second');
    const now = this.clock.now();
    let expiresAt = now + ttl * 1000;
    if (t.parent !== undefined) {
      const parent = await this.rows.tokenById(t.parent);
      if (!parent || parent.user !== t.user || Date.parse(parent.expiresAt) <= now) throw new UnauthorizedError('Unauthorized');
      if (Date.parse(parent.expiresAt) < expiresAt) {
        expiresAt = Date.parse(parent.expiresAt);
        ttl = Math.floor((expiresAt - now) / 1000);
        if (ttl < 1) throw new UnauthorizedError('Unauthorized');
        expiresAt = now + ttl * 1000;
      }
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const id = randomBytes(6).toString('hex');
    const rec: TokenRecord = {
      id, user: t.user, groups: [...new Set(t.groups ?? [])].sort(), source: t.source,
      expiresAt: new Date(expiresAt).toISOString(), createdAt: new Date(now).toISOString(), createdBy: t.createdBy, description: t.description,
      ...(t.parent !== undefined ? { parent: t.parent } : {}),
    };
    await this.rows.insertToken({ ...rec, hash: hashToken(token), ttlSec: ttl });
    // A parent revoked meanwhile may have missed this child when it looked for children: look again.
    if (t.parent !== undefined && !(await this.rows.tokenById(t.parent))) {
      await this.rows.deleteToken(id);
      throw new UnauthorizedError('Unauthorized');
    }
    return { token, ...rec };
  }

  /** The token behind a presented secret, if it exists and has not expired. */
  async lookup(token: string): Promise<TokenRecord | undefined> {
    if (!isSystemToken(token)) return undefined;
    const rec = await this.rows.tokenByHash(hashToken(token));
    if (!rec || Date.parse(rec.expiresAt) <= this.clock.now()) return undefined;
    return rec;
  }

  /** Tokens of one user, or of everyone; never their secrets. */
  async listTokens(user?: string): Promise<TokenRecord[]> {
    const now = this.clock.now();
    return (await this.rows.listTokens(user, MAX_LISTED))
      .filter((t) => Date.parse(t.expiresAt) > now).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Revokes a token by id and every token it minted; returns the revoked token, or undefined when there is none. */
  async revoke(id: string): Promise<TokenRecord | undefined> {
    return (await this.revokeTree(id))[0];
  }

  /** Revokes a token and, transitively, the tokens minted with it; returns them all, the token first. */
  async revokeTree(id: string): Promise<TokenRecord[]> {
    if (!ID_RE.test(id)) return [];
    const root = await this.rows.deleteToken(id);
    if (!root) return [];
    const revoked = [root];
    // Minted tokens belong to the same user: their tokens are the only place to look.
    let frontier = new Set([id]);
    while (frontier.size > 0) {
      const children = (await this.rows.listTokens(root.user, MAX_LISTED)).filter((c) => c.parent !== undefined && frontier.has(c.parent));
      frontier = new Set();
      for (const c of children) {
        const gone = await this.rows.deleteToken(c.id);
        if (gone) {
          revoked.push(gone);
          frontier.add(c.id);
        }
      }
    }
    return revoked;
  }
}
