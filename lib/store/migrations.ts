/**
 * Numbered schema migrations, applied in order on first use; `PRAGMA user_version` records the
 * last one applied. Never edit a migration that has shipped: add the next number.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        token_hash BLOB NOT NULL UNIQUE,
        token_prefix TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_used_at INTEGER
      ) STRICT;
    `,
  },
];
