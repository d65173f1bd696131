import type Database from "better-sqlite3";
import { normalizeModel } from "../model-name.js";

/** What `usage` can group by. Rows are ordered by these, in this order, unless sorted otherwise. */
export const GROUP_KEYS = ["user", "model", "server", "day", "hour"] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

/** One report: a time window, a grouping and filters. */
export interface UsageQuery {
  /** Epoch ms, inclusive. */
  readonly since: number;
  /** Epoch ms, exclusive. */
  readonly until: number;
  readonly by: readonly GroupKey[];
  readonly user?: string | undefined;
  readonly model?: string | undefined;
  readonly server?: string | undefined;
}

/**
 * One group as SQLite returns it: the group's keys (in `by` order), then requests, errors,
 * aborted, prompt and completion tokens, median and p95 duration, median TTFT and tokens/s.
 */
export type RawGroup = (string | number | null)[];

/** Probes and scrapes are in the request log but are nobody's usage. */
export const PROBE_PATHS = ["/", "/health", "/metrics", "/api/version"] as const;

/**
 * The condition every report has. It is written exactly as the WHERE of migration 4's
 * partial index `request_log_usage`: SQLite uses a partial index only for queries that say
 * the same.
 */
export const NOT_A_PROBE = `path NOT IN (${PROBE_PATHS.map((p) => `'${p}'`).join(", ")})`;

/** The aggregates of a RawGroup, in its order. */
const AGGREGATE_SQL = [
  "count(*)",
  "sum(status >= 400 OR error_code IS NOT NULL)",
  "sum(client_aborted)",
  "coalesce(sum(prompt_tokens), 0)",
  "coalesce(sum(completion_tokens), 0)",
  "percentile_disc(duration_ms, 0.5)",
  "percentile_disc(duration_ms, 0.95)",
  // The time to a first byte of an error is no time to a first token.
  "percentile_disc(CASE WHEN status < 400 THEN ttft_ms END, 0.5)",
  "percentile_disc(tokens_per_s, 0.5)",
];

/** Each grouping as a SQL expression; day and hour are UTC, as whole numbers since the epoch. */
const GROUP_SQL: Record<GroupKey, string> = {
  user: "user_name",
  model: "model",
  server: "server",
  day: "ts / 86400000",
  hour: "ts / 3600000",
};

/**
 * Below this share of the stored time span, the time index (a range seek, then a look-up of
 * each row) is cheaper than reading all of the usage index (no look-ups, and groups by user
 * and model come out in order, with nothing to sort).
 */
const NARROW_WINDOW = 0.2;

/**
 * The report in one statement, aggregated inside SQLite: the rows never cross into
 * JavaScript one by one (that alone cost ~1 µs each). Percentiles are SQLite's
 * percentile_disc: a value that occurred, the ⌊p·(n−1)⌋+1-th smallest of the group.
 */
export function usageStatement(
  db: Database.Database,
  q: UsageQuery,
): { sql: string; countSql: string; params: Record<string, unknown> } {
  // Grouping columns in the usage index's order first: a prefix of (user_name, model, server)
  // streams out of the index group by group, with no sort at all.
  const order = [...q.by].sort((a, b) => GROUP_KEYS.indexOf(a) - GROUP_KEYS.indexOf(b));
  const where = ["ts >= @since", "ts < @until", NOT_A_PROBE];
  const params: Record<string, unknown> = { since: q.since, until: q.until };
  if (q.user !== undefined) {
    where.push("user_name = @user");
    params.user = q.user;
  }
  if (q.model !== undefined) {
    // Ollama models are stored normalised; external ones as written.
    where.push("model IN (@model, @normalised)");
    params.model = q.model;
    params.normalised = normalizeModel(q.model);
  }
  if (q.server !== undefined) {
    where.push("server = @server");
    params.server = q.server;
  }
  const from = `request_log ${indexFor(db, q)} WHERE ${where.join(" AND ")}`;
  const columns = [...q.by.map((k) => GROUP_SQL[k]), ...AGGREGATE_SQL];
  const groupBy = order.length > 0 ? ` GROUP BY ${order.map((k) => GROUP_SQL[k]).join(", ")}` : "";
  const sql = `SELECT ${columns.join(", ")} FROM ${from}${groupBy}`;
  return { sql, countSql: `SELECT count(*) FROM ${from}`, params };
}

/** `INDEXED BY` the index that serves this window best, or nothing on a database without them. */
function indexFor(db: Database.Database, q: UsageQuery): string {
  const has = (name: string) =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) !== undefined;
  const usage = has("request_log_usage");
  const byTime = has("request_log_ts");
  if (!usage) return byTime ? "INDEXED BY request_log_ts" : "";
  // A user's rows are one range of the usage index, whatever the window.
  if (q.user !== undefined || !byTime) return "INDEXED BY request_log_usage";
  const span = db.prepare("SELECT min(ts) AS lo, max(ts) AS hi FROM request_log").get() as {
    lo: number | null;
    hi: number | null;
  };
  if (span.lo === null || span.hi === null || span.hi <= span.lo) return "INDEXED BY request_log_usage";
  const covered = Math.min(q.until, span.hi + 1) - Math.max(q.since, span.lo);
  return covered / (span.hi + 1 - span.lo) < NARROW_WINDOW
    ? "INDEXED BY request_log_ts"
    : "INDEXED BY request_log_usage";
}
