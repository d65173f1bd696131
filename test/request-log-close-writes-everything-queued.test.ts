import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { newContext } from "../lib/context.js";
import { silentLog } from "../lib/log/app-log.js";
import { openRequestLog } from "../lib/log/request-log.js";
import { toRecord } from "../lib/log/request-record.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// close() is what SIGTERM runs: records handed over a moment ago (still on the main thread,
// or in the writer's queue) are all written before it resolves.

test("close() writes every record queued up to that moment", async (t) => {
  const path = join(tempDir(t), "log.sqlite3");
  const store = openStore(path);
  t.after(() => store.close());
  const log = openRequestLog({ path, retentionDays: 30, log: silentLog() });

  const total = 3000;
  for (let i = 0; i < total; i++) {
    const ctx = newContext(`q-${i}`, "POST", "/api/chat", "ollama", "127.0.0.1");
    ctx.status = 200;
    ctx.tEnd = ctx.t0 + 1;
    log.record(toRecord(ctx, "llama3:latest", false));
  }
  // Nothing has been posted yet: the records sit in this turn's batch.
  assert.equal(log.stats().written, 0);
  await log.close();

  assert.deepEqual(log.stats(), { recorded: total, written: total, dropped: 0, queued: 0, lastError: null });
  const n = store.db.prepare("SELECT count(DISTINCT request_id) FROM request_log").pluck().get();
  assert.equal(n, total);
  // After close, a record is counted as dropped, not queued for a writer that is gone.
  log.record(toRecord(newContext("late", "GET", "/", "ollama", ""), null, false));
  assert.equal(log.stats().dropped, 1);
});
