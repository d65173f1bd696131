// The thread that runs a usage report's query, so that the CLI's main thread stays free to
// draw a progress line while SQLite works (a better-sqlite3 call blocks its thread).
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { type RawGroup, type UsageQuery, usageStatement } from "./usage-query.js";

/** What the main thread hands over. */
export interface UsageWorkerData {
  readonly path: string;
  readonly query: UsageQuery;
  /** Count the rows in the window first (for a percentage); costs a pass over the index. */
  readonly estimate: boolean;
}

/** What the thread reports, in order: an estimate (when asked), groups in batches, then the end or an error. */
export type UsageWorkerMessage =
  | { kind: "estimate"; requests: number }
  | { kind: "groups"; groups: RawGroup[]; requests: number }
  | { kind: "end" }
  | { kind: "error"; message: string };

/** Groups are posted in batches, and at least this often while a query streams. */
const BATCH = 500;
const POST_MS = 100;

function run({ path, query, estimate }: UsageWorkerData): void {
  const post = (m: UsageWorkerMessage) => parentPort!.postMessage(m);
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const { sql, countSql, params } = usageStatement(db, query);
    if (estimate) post({ kind: "estimate", requests: db.prepare(countSql).pluck().get(params) as number });
    const keys = query.by.length;
    let batch: RawGroup[] = [];
    let requests = 0;
    let posted = performance.now();
    for (const group of db.prepare(sql).raw().iterate(params) as Iterable<RawGroup>) {
      // A report with no grouping is one row, which is empty (count 0) when nothing matched.
      if (keys === 0 && group[0] === 0) continue;
      batch.push(group);
      requests += group[keys] as number;
      if (batch.length >= BATCH || performance.now() - posted > POST_MS) {
        post({ kind: "groups", groups: batch, requests });
        batch = [];
        posted = performance.now();
      }
    }
    post({ kind: "groups", groups: batch, requests });
    post({ kind: "end" });
  } finally {
    db.close();
  }
}

try {
  run(workerData as UsageWorkerData);
} catch (err) {
  parentPort!.postMessage({ kind: "error", message: (err as Error).message } satisfies UsageWorkerMessage);
}
