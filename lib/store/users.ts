import { hash, randomBytes } from "node:crypto";
import type Database from "better-sqlite3";

export type Role = "user" | "admin";

/** A user as everyone but the token check sees it: never a token or its hash. */
export interface User {
  readonly id: number;
  readonly name: string;
  readonly role: Role;
  readonly active: boolean;
  readonly tokenPrefix: string;
  /** Epoch ms, or null for a token that never expires. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  /** The policy assigned by name; null = the config's `default` (or no limits without one). */
  readonly policy: string | null;
}

/** What the token check needs: the user and the SHA-256 of their token. */
export interface Credential {
  readonly user: User;
  readonly tokenHash: Buffer;
}

/** A failure the CLI reports as is (duplicate name, unknown user, invalid name). */
export class UserError extends Error {
  override name = "UserError";
}

export const TOKEN_PREFIX = "olp_";
/** `olp_` + 32 random bytes in base64url: 47 characters. */
export const TOKEN_LENGTH = 47;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function hashToken(token: string): Buffer {
  // The one-shot crypto.hash (Node >= 20.12) skips the Hash object createHash would build per request.
  return hash("sha256", token, "buffer");
}

function newToken(): { token: string; hash: Buffer; prefix: string } {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  return { token, hash: hashToken(token), prefix: token.slice(0, 12) };
}

interface Row {
  id: number;
  name: string;
  role: Role;
  active: number;
  token_hash: Buffer;
  token_prefix: string;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
  policy: string | null;
}

function toUser(r: Row): User {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    active: r.active === 1,
    tokenPrefix: r.token_prefix,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    policy: r.policy,
  };
}

export interface UserStore {
  /** Creates a user and returns its token: the only time the token exists in clear. */
  create(
    name: string,
    opts?: { role?: Role; expiresAt?: number | null; policy?: string | null },
  ): { user: User; token: string };
  list(): User[];
  get(name: string): User;
  setActive(name: string, active: boolean): User;
  /** Changes role, expiry or policy (the fields given); the token stays. */
  update(name: string, changes: UserChanges): User;
  remove(name: string): void;
  /** A new token; the old one stops working at the next refresh of the running server (within 2 s). */
  rotate(name: string, opts?: { expiresAt?: number | null }): { user: User; token: string };
  /** Active users with their token hashes, for the server's in-memory token map. */
  credentials(): Credential[];
  /** Records last-use times in one transaction (the server batches them off the request path). */
  touch(lastUsed: ReadonlyMap<number, number>): void;
}

/** What `update` may change; a field left out keeps its value. */
export interface UserChanges {
  readonly role?: Role;
  /** Epoch ms, or null for no expiry. */
  readonly expiresAt?: number | null;
  /** A policy name, or null for the config's `default`. */
  readonly policy?: string | null;
}

export function userStore(db: Database.Database): UserStore {
  const insert = db.prepare(
    `INSERT INTO users (name, role, active, token_hash, token_prefix, expires_at, created_at, updated_at, policy)
     VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`,
  );
  const byName = db.prepare<[string], Row>("SELECT * FROM users WHERE name = ?");
  const all = db.prepare<[], Row>("SELECT * FROM users ORDER BY name");
  const active = db.prepare<[], Row>("SELECT * FROM users WHERE active = 1");
  const setActive = db.prepare("UPDATE users SET active = ?, updated_at = ? WHERE name = ?");
  const del = db.prepare("DELETE FROM users WHERE name = ?");
  const update = db.prepare(
    "UPDATE users SET role = ?, expires_at = ?, policy = ?, updated_at = ? WHERE name = ?",
  );
  const setToken = db.prepare(
    "UPDATE users SET token_hash = ?, token_prefix = ?, expires_at = ?, updated_at = ? WHERE name = ?",
  );
  const touch = db.prepare("UPDATE users SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?");

  const get = (name: string): User => {
    const row = byName.get(name);
    if (!row) throw new UserError(`no user named "${name}"`);
    return toUser(row);
  };

  return {
    create(name, opts = {}) {
      if (!NAME_PATTERN.test(name)) {
        throw new UserError(
          `invalid user name "${name}": use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
        );
      }
      const { token, hash, prefix } = newToken();
      const now = Date.now();
      try {
        insert.run(
          name,
          opts.role ?? "user",
          hash,
          prefix,
          opts.expiresAt ?? null,
          now,
          now,
          opts.policy ?? null,
        );
      } catch (err) {
        // The UNIQUE constraint is the check: a look-up first would race a second CLI run.
        if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE" && /users\.name/.test(String(err)))
          throw new UserError(`a user named "${name}" already exists`);
        throw err;
      }
      return { user: get(name), token };
    },
    list: () => all.all().map(toUser),
    get,
    setActive(name, on) {
      get(name);
      setActive.run(on ? 1 : 0, Date.now(), name);
      return get(name);
    },
    update(name, changes) {
      const before = get(name);
      update.run(
        changes.role ?? before.role,
        changes.expiresAt === undefined ? before.expiresAt : changes.expiresAt,
        changes.policy === undefined ? before.policy : changes.policy,
        Date.now(),
        name,
      );
      return get(name);
    },
    remove(name) {
      get(name);
      del.run(name);
    },
    rotate(name, opts = {}) {
      const before = get(name);
      const { token, hash, prefix } = newToken();
      const expiresAt = opts.expiresAt === undefined ? before.expiresAt : opts.expiresAt;
      setToken.run(hash, prefix, expiresAt, Date.now(), name);
      return { user: get(name), token };
    },
    credentials: () => active.all().map((r) => ({ user: toUser(r), tokenHash: r.token_hash })),
    touch: db.transaction((lastUsed: ReadonlyMap<number, number>) => {
      for (const [id, at] of lastUsed) touch.run(at, id);
    }),
  };
}
