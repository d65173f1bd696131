import type Database from "better-sqlite3";

/** Token quotas run per UTC day. */
export const DAY_MS = 86_400_000;

/** The UTC day of an epoch-ms time, as a day number (days since 1970-01-01). */
export function utcDay(now: number): number {
  return Math.floor(now / DAY_MS);
}

/** The next midnight UTC after `now`, in epoch ms: when a day's token quota resets. */
export function nextUtcMidnight(now: number): number {
  return (utcDay(now) + 1) * DAY_MS;
}

/**
 * Today's tokens (prompt + completion) per user, from the request log. A request counts on the
 * day it finished (`ts` is its arrival, `duration_ms` how long it ran), as the running server
 * counts it. The ts index narrows the scan to yesterday and today. Run once at start (and on a
 * reload), never per request.
 */
export function readTokensToday(db: Database.Database, now: number, user?: string): Map<string, number> {
  const dayStart = utcDay(now) * DAY_MS;
  const rows = db
    .prepare<[number, number, number, string | null, string | null], { user_name: string; tokens: number }>(
      `SELECT user_name, SUM(COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0)) AS tokens
         FROM request_log
        WHERE ts >= ? AND ts < ? AND ts + duration_ms >= ?
          AND user_name IS NOT NULL AND (? IS NULL OR user_name = ?)
        GROUP BY user_name`,
    )
    .all(dayStart - DAY_MS, dayStart + DAY_MS, dayStart, user ?? null, user ?? null);
  return new Map(rows.filter((r) => r.tokens > 0).map((r) => [r.user_name, r.tokens]));
}
