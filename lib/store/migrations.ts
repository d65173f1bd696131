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
  {
    version: 2,
    // One row per request, written by the request-log worker. user_id has no foreign key and
    // user_name is kept beside it: rows outlive the users they name.
    sql: `
      CREATE TABLE request_log (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        user_id INTEGER,
        user_name TEXT,
        client TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        model TEXT,
        server TEXT,
        status INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL,
        overhead_ms REAL,
        headers_ms REAL,
        ttft_ms REAL,
        duration_ms REAL NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        tokens_per_s REAL,
        eval_ms REAL,
        load_ms REAL,
        done_reason TEXT,
        error_code TEXT,
        error_message TEXT,
        client_aborted INTEGER NOT NULL CHECK (client_aborted IN (0, 1))
      ) STRICT;
      -- One index: usage reports and pruning both read a time range. Each index more cost
      -- about 5 µs of writer CPU per request (measured), for queries the time range already narrows.
      CREATE INDEX request_log_ts ON request_log (ts);
    `,
  },
  {
    version: 3,
    // A user's policy by name (null: the config's `default`, if any). The name is not checked
    // here: the config defines policies, and a user whose policy it lacks is refused.
    // policy_usage: what the running server counts in memory (in flight, requests in the last
    // minute) for the users busy right now, written by it every second so that
    // `users show` can report it; rows are deleted when a user goes idle and when the server stops.
    sql: `
      ALTER TABLE users ADD COLUMN policy TEXT;
      CREATE TABLE policy_usage (
        user_name TEXT PRIMARY KEY,
        in_flight INTEGER NOT NULL,
        requests_last_minute INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    // `ollama-proxy usage` over weeks of rows: every column a report reads, in an index whose
    // order groups by user, then model, then server. A report reads this index alone (never
    // the wide table rows), and its default grouping (user, model) comes out of it in order,
    // with nothing to sort: 30 days of 2 million rows in well under 2 s instead of 15. Probes
    // are nobody's usage and are left out, so /health scrapes cost the writer nothing extra.
    // It costs the writer ~4 µs of CPU per other row (measured), off the request path.
    // Independent of migration 3 (users.policy): it reads request_log only.
    sql: `
      CREATE INDEX IF NOT EXISTS request_log_usage ON request_log (
        user_name, model, server, ts, status, error_code, client_aborted,
        prompt_tokens, completion_tokens, duration_ms, ttft_ms, tokens_per_s
      ) WHERE path NOT IN ('/', '/health', '/metrics', '/api/version');
    `,
  },
  {
    version: 5,
    // How long a request waited in the proxy's scheduler for a slot (null: not scheduled).
    sql: `ALTER TABLE request_log ADD COLUMN queue_ms REAL;`,
  },
];
