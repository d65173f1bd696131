import Database from "better-sqlite3";
import type { UserUse } from "./limits.js";

/**
 * The usage snapshot: how `users show` (another process) learns what the running server
 * counts in memory — requests in flight and in the last minute — without the request path
 * ever touching SQLite. A timer in the server copies the busy users' counters to the
 * `policy_usage` table once a second, and only what changed; an idle user's row is deleted,
 * so no row means nothing in flight. Rows are rewritten every HEARTBEAT_MS while busy so
 * that a reader can tell a live figure from one a crashed server left behind.
 */
export interface UsageSnapshots {
  /** Writes the current figures now (the timer calls it; tests too). */
  tick(now?: number): void;
  /** Stops the timer, deletes every row (nothing is in flight any more) and closes the connection. */
  close(): void;
}

export interface SnapshotOptions {
  /** The SQLite file (migrated: it has `policy_usage`). */
  path: string;
  /** The busy users' counters (`Policies.snapshot`). */
  read: (now: number) => readonly UserUse[];
  everyMs?: number;
  clock?: () => number;
  /** A write failed for another reason than a lock held elsewhere; the next tick tries again. */
  onError?: (err: Error) => void;
}

/** A row older than this was left by a server that is no longer running. */
export const HEARTBEAT_MS = 10_000;
/** What `users show` treats as stale: a few heartbeats missed. */
export const STALE_MS = 3 * HEARTBEAT_MS;

interface Written {
  inFlight: number;
  requestsLastMinute: number;
  at: number;
}

/**
 * Starts the snapshot timer on a connection of its own. It never waits for a lock (busy
 * timeout 0): when the request-log writer or a CLI holds the database, this tick is skipped
 * and the next one writes, so the event loop is never held up by SQLite's locking.
 */
export function startUsageSnapshots(opts: SnapshotOptions): UsageSnapshots {
  const clock = opts.clock ?? Date.now;
  const db = new Database(opts.path, { fileMustExist: true, timeout: 0 });
  db.pragma("synchronous = NORMAL");
  const upsert = db.prepare<[string, number, number, number]>(
    `INSERT INTO policy_usage (user_name, in_flight, requests_last_minute, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (user_name) DO UPDATE SET in_flight = excluded.in_flight,
       requests_last_minute = excluded.requests_last_minute, updated_at = excluded.updated_at`,
  );
  const remove = db.prepare<[string]>("DELETE FROM policy_usage WHERE user_name = ?");
  const clear = db.prepare("DELETE FROM policy_usage");
  // null until the table has been cleared once: rows a previous (crashed) server left are not ours.
  let written: Map<string, Written> | null = null;

  const write = db.transaction(
    (rows: readonly UserUse[], gone: readonly string[], now: number, fresh: boolean) => {
      if (fresh) clear.run();
      for (const name of gone) remove.run(name);
      for (const r of rows) upsert.run(r.user, r.inFlight, r.requestsLastMinute, now);
    },
  );

  const tick = (now = clock()) => {
    const busy = opts.read(now);
    const next = new Map<string, Written>();
    const changed: UserUse[] = [];
    for (const u of busy) {
      const before = written?.get(u.user);
      const same =
        before !== undefined &&
        before.inFlight === u.inFlight &&
        before.requestsLastMinute === u.requestsLastMinute &&
        now - before.at < HEARTBEAT_MS;
      next.set(
        u.user,
        same ? before : { inFlight: u.inFlight, requestsLastMinute: u.requestsLastMinute, at: now },
      );
      if (!same) changed.push(u);
    }
    const gone = written === null ? [] : [...written.keys()].filter((name) => !next.has(name));
    if (written !== null && changed.length === 0 && gone.length === 0) return;
    try {
      write(changed, gone, now, written === null);
      written = next;
    } catch (err) {
      // Busy: someone else is writing; this tick's figures are taken again by the next one.
      if ((err as { code?: string }).code !== "SQLITE_BUSY") opts.onError?.(err as Error);
    }
  };

  const timer = setInterval(() => tick(), opts.everyMs ?? 1000);
  timer.unref();
  return {
    tick,
    close() {
      clearInterval(timer);
      try {
        // Off the request path now: worth waiting a moment for the lock, so no row outlives the server.
        db.pragma("busy_timeout = 1000");
        clear.run();
      } catch (err) {
        opts.onError?.(err as Error);
      }
      db.close();
    },
  };
}

/** What the server last reported for one user; null when it reported nothing (the user is idle). */
export function readUsage(
  db: Database.Database,
  user: string,
): { inFlight: number; requestsLastMinute: number; updatedAt: number } | null {
  const row = db
    .prepare<[string], { in_flight: number; requests_last_minute: number; updated_at: number }>(
      "SELECT in_flight, requests_last_minute, updated_at FROM policy_usage WHERE user_name = ?",
    )
    .get(user);
  return row === undefined
    ? null
    : { inFlight: row.in_flight, requestsLastMinute: row.requests_last_minute, updatedAt: row.updated_at };
}
