// The request-log writer, run in a worker thread (lib/log/request-log.ts starts it). It owns
// its own SQLite connection, so the request path never waits on the disk: rows arrive as
// messages, are written in one transaction per batch with statements prepared once, and old
// rows are pruned from time to time.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { RECORD_COLUMNS, type RequestRow } from "./request-record.js";

/** What the main thread passes as workerData. */
export interface WriterOptions {
  path: string;
  retentionDays: number;
  busyTimeoutMs: number;
  pruneEveryMs: number;
}

/** Messages to the writer. */
export type ToWriter =
  | { type: "rows"; rows: RequestRow[] }
  | { type: "retention"; days: number }
  | { type: "close" };

/** Messages from the writer: rows written, a write that failed (they are kept and retried), the end. */
export type FromWriter =
  | { type: "written"; n: number }
  | { type: "failed"; message: string; held: number }
  | { type: "pruned"; n: number }
  | { type: "closed"; lost: number; message: string | null };

/** Rows per transaction: big enough to amortise the commit, small enough not to hold the lock long. */
const MAX_BATCH = 2000;
const PRUNE_CHUNK = 5000;
const MAX_BACKOFF_MS = 30_000;
const DAY_MS = 86_400_000;

const port = parentPort!;
const opts = workerData as WriterOptions;
let retentionDays = opts.retentionDays;
/** The open connection and its statements, prepared once per connection. */
interface Conn {
  db: Database.Database;
  insert: (rows: RequestRow[]) => void;
  prune: Database.Statement<[number, number]>;
}
let conn: Conn | null = null;
let queue: RequestRow[] = [];
let timer: NodeJS.Timeout | null = null;
let backoffMs = 0;
let closing = false;

const send = (m: FromWriter) => port.postMessage(m);

/** Opens the connection on first use (and again after a failure closed it). */
function open(): Conn {
  if (conn !== null) return conn;
  const db = new Database(opts.path, { fileMustExist: true, timeout: opts.busyTimeoutMs });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const stmt = db.prepare(
      `INSERT INTO request_log (${RECORD_COLUMNS.join(", ")}) VALUES (${RECORD_COLUMNS.map(() => "?").join(", ")})`,
    );
    const prune = db.prepare<[number, number]>(
      "DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE ts < ? ORDER BY ts LIMIT ?)",
    );
    const insert = db.transaction((rows: RequestRow[]) => {
      for (const r of rows) stmt.run(r);
    });
    conn = { db, insert, prune };
    return conn;
  } catch (err) {
    db.close();
    throw err;
  }
}

function drop(): void {
  try {
    conn?.db.close();
  } catch {
    // Already unusable; a fresh connection is opened on the next try.
  }
  conn = null;
}

/** Writes one batch; false (and the rows kept) when the database refused it. */
function writeBatch(): boolean {
  const batch = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
  try {
    open().insert(batch);
  } catch (err) {
    // Busy, full, read-only, gone: keep the rows, say so, try again later. The main thread
    // stops sending once its bound is reached, so what is held here stays bounded.
    send({ type: "failed", message: (err as Error).message, held: queue.length });
    const code = (err as { code?: string }).code ?? "";
    if (code !== "SQLITE_BUSY" && code !== "SQLITE_LOCKED") drop();
    return false;
  }
  queue = batch === queue ? [] : queue.slice(batch.length);
  send({ type: "written", n: batch.length });
  return true;
}

function flush(): void {
  timer = null;
  while (queue.length > 0) {
    if (!writeBatch()) {
      backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs === 0 ? 100 : backoffMs * 2);
      schedule(backoffMs);
      return;
    }
    backoffMs = 0;
    // Let new messages in between batches.
    if (queue.length > 0) {
      schedule(0);
      return;
    }
  }
}

function schedule(delayMs: number): void {
  if (timer !== null || closing) return;
  timer = delayMs === 0 ? (setImmediate(flush) as unknown as NodeJS.Timeout) : setTimeout(flush, delayMs);
}

function cancel(): void {
  if (timer === null) return;
  clearTimeout(timer);
  clearImmediate(timer as unknown as NodeJS.Immediate);
  timer = null;
}

/** Deletes rows older than the retention, a chunk at a time so that writes get in between. */
function prune(): void {
  if (retentionDays <= 0 || closing) return;
  const cutoff = Date.now() - retentionDays * DAY_MS;
  let total = 0;
  const step = () => {
    if (closing) return;
    try {
      const n = open().prune.run(cutoff, PRUNE_CHUNK).changes;
      total += n;
      if (n === PRUNE_CHUNK) {
        setImmediate(step);
        return;
      }
    } catch (err) {
      send({ type: "failed", message: `pruning: ${(err as Error).message}`, held: queue.length });
      return;
    }
    if (total > 0) send({ type: "pruned", n: total });
  };
  step();
}

const pruneTimer = setInterval(prune, opts.pruneEveryMs);
setImmediate(prune);

port.on("message", (m: ToWriter) => {
  switch (m.type) {
    case "rows":
      for (const r of m.rows) queue.push(r);
      schedule(backoffMs);
      return;
    case "retention":
      retentionDays = m.days;
      return;
    case "close": {
      // Everything queued is written before the writer goes: one more try, however the last went.
      closing = true;
      cancel();
      clearInterval(pruneTimer);
      let message: string | null = null;
      while (queue.length > 0) {
        const before = queue.length;
        if (!writeBatch() || queue.length === before) {
          message = "the database refused the last rows";
          break;
        }
      }
      const lost = queue.length;
      queue = [];
      drop();
      send({ type: "closed", lost, message });
      port.close();
      return;
    }
  }
});
