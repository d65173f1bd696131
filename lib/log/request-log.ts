import { Worker } from "node:worker_threads";
import type { ComponentHealth } from "../component.js";
import type { Logger } from "./app-log.js";
import type { FromWriter, ToWriter, WriterOptions } from "./request-log-worker.js";
import { type RequestRecord, type RequestRow, toRow } from "./request-record.js";

export interface RequestLogOptions {
  /** The SQLite file (already migrated: the writer only inserts and prunes). */
  path: string;
  retentionDays: number;
  log: Logger;
  /** Records queued here or handed to the writer and not yet written; beyond it, new ones are dropped. */
  maxQueue?: number;
  /** How long the writer waits for a lock held by another connection before it retries later. */
  busyTimeoutMs?: number;
  pruneEveryMs?: number;
  /** Longest close() waits for the writer before it gives up on it. */
  closeTimeoutMs?: number;
}

/** Counters of the request log, for /health and /metrics. */
export interface RequestLogStats {
  /** Records handed to record(). */
  recorded: number;
  written: number;
  /** Records dropped because the writer fell behind, failed, or was gone. */
  dropped: number;
  /** Records not yet written (here or in the writer). */
  queued: number;
  /** The writer's last error, cleared by its next successful write. */
  lastError: string | null;
}

/** The main-thread side of the request log: posts records to the writer, never waits for it. */
export interface RequestLog {
  /** Queues one record; drops (and counts) it when the queue is full. Never blocks. */
  record(r: RequestRecord): void;
  stats(): RequestLogStats;
  health(): ComponentHealth;
  setRetention(days: number): void;
  /** Writes everything queued, then stops the writer. */
  close(): Promise<void>;
}

const DEFAULT_MAX_QUEUE = 10_000;
/** The part of the queue records of requests without a user may fill. */
const ANONYMOUS_SHARE = 0.5;
/** Records wait at most this long on the main thread before they go to the writer... */
const POST_MS = 100;
/** ...or until this many have gathered. */
const POST_BATCH = 1000;
/** A drop makes the log "degraded" in /health for this long. */
const DROP_MEMORY_MS = 60_000;

/**
 * Starts the request-log writer thread. The worker file is found next to this module's
 * compiled file: .build/lib/log/ in tests, dist/ in the bundle (its own tsup entry).
 */
export function openRequestLog(opts: RequestLogOptions): RequestLog {
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const { log } = opts;
  const workerData: WriterOptions = {
    path: opts.path,
    retentionDays: opts.retentionDays,
    busyTimeoutMs: opts.busyTimeoutMs ?? 5000,
    pruneEveryMs: opts.pruneEveryMs ?? 3_600_000,
  };
  const worker = new Worker(new URL("./request-log-worker.js", import.meta.url), { workerData });
  let pending: RequestRow[] = [];
  let posted = 0;
  let timer: NodeJS.Timeout | null = null;
  let alive = true;
  let closing = false;
  let recorded = 0;
  let written = 0;
  let dropped = 0;
  let lastError: string | null = null;
  let lastDropAt = 0;
  let warnedDropAt = 0;

  const send = (m: ToWriter) => worker.postMessage(m);

  /** Hands what accumulated to the writer in one message (one transaction there). */
  const post = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pending.length === 0 || !alive) return;
    posted += pending.length;
    send({ type: "rows", rows: pending });
    pending = [];
  };

  const countDrop = (n: number, why: string) => {
    if (n <= 0) return;
    dropped += n;
    lastDropAt = Date.now();
    // One warning a minute at most: a writer that fell behind must not flood the app log too.
    if (lastDropAt - warnedDropAt > DROP_MEMORY_MS) {
      warnedDropAt = lastDropAt;
      log.warn({ dropped, why }, "request log: records dropped");
    }
  };

  worker.on("message", (m: FromWriter) => {
    switch (m.type) {
      case "written":
        posted -= m.n;
        written += m.n;
        if (lastError !== null) log.info("request log: writing again");
        lastError = null;
        return;
      case "failed":
        if (lastError !== m.message)
          log.error({ error: m.message, held: m.held }, "request log: write failed");
        lastError = m.message;
        return;
      case "pruned":
        log.info({ rows: m.n }, "request log: pruned old rows");
        return;
      case "closed":
        posted -= m.lost;
        countDrop(m.lost, m.message ?? "writer closed");
        if (m.message !== null) lastError = m.message;
        return;
    }
  });
  worker.on("error", (err) => {
    lastError = `writer crashed: ${err.message}`;
    log.error({ err }, "request log: writer crashed");
  });
  // Not events.once: it would reject when the worker reports an error before it exits.
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve())).then(() => {
    alive = false;
    // Whatever the writer still held is gone with it.
    countDrop(posted + pending.length, lastError ?? "writer stopped");
    posted = 0;
    pending = [];
    if (!closing) {
      lastError ??= "writer stopped";
      log.error("request log: writer stopped; records are dropped from now on");
    }
  });

  return {
    record(r) {
      recorded++;
      if (!alive || closing) return countDrop(1, "writer stopped");
      const queued = posted + pending.length;
      if (queued >= maxQueue) return countDrop(1, "queue full: the writer fell behind");
      // Requests without a user (no or a bad token, probes) may fill half of the queue at most:
      // a flood of them must not crowd the records of authenticated requests out.
      if (r.user_id === null && queued >= maxQueue * ANONYMOUS_SHARE)
        return countDrop(1, "queue half full: records of requests without a user are dropped first");
      pending.push(toRow(r));
      // Under load, one message (and one transaction) per POST_MS rather than per request:
      // each message wakes the writer and each transaction is a WAL commit.
      if (pending.length >= POST_BATCH) post();
      else if (timer === null) timer = setTimeout(post, POST_MS).unref();
    },
    stats: () => ({ recorded, written, dropped, queued: posted + pending.length, lastError }),
    health() {
      const recentDrop = Date.now() - lastDropAt < DROP_MEMORY_MS;
      return {
        name: "request_log",
        ok: alive && lastError === null && !recentDrop,
        detail: {
          written,
          dropped,
          queued: posted + pending.length,
          ...(lastError !== null ? { error: lastError } : {}),
        },
      };
    },
    setRetention(days) {
      if (alive) send({ type: "retention", days });
    },
    async close() {
      if (closing) return exited;
      post();
      closing = true;
      if (!alive) return exited;
      send({ type: "close" });
      const deadline = setTimeout(() => {
        log.error("request log: writer did not finish in time; stopping it");
        void worker.terminate();
      }, opts.closeTimeoutMs ?? 60_000);
      await exited;
      clearTimeout(deadline);
    },
  };
}
