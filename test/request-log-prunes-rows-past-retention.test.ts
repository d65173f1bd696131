import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { newContext } from "../lib/context.js";
import { silentLog } from "../lib/log/app-log.js";
import { openRequestLog } from "../lib/log/request-log.js";
import { RECORD_COLUMNS, toRecord } from "../lib/log/request-record.js";
import { openStore } from "../lib/store/open.js";
import { tempDir, waitFor } from "./helpers.js";

const DAY = 86_400_000;

// The writer deletes rows older than logging.retention_days (in chunks, so that writes get in
// between), keeps the rest, and follows a retention changed by a config reload.

test("rows past the retention are pruned; a reload's retention applies", async (t) => {
  const path = join(tempDir(t), "log.sqlite3");
  const store = openStore(path);
  t.after(() => store.close());
  const insert = store.db.prepare(
    `INSERT INTO request_log (${RECORD_COLUMNS.join(", ")}) VALUES (${RECORD_COLUMNS.map((c) => `@${c}`).join(", ")})`,
  );
  const add = (ageMs: number, n: number, prefix: string) =>
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const ctx = newContext(`${prefix}-${i}`, "POST", "/api/chat", "ollama", "127.0.0.1");
        ctx.status = 200;
        insert.run({ ...toRecord(ctx, "llama3:latest", false), ts: Date.now() - ageMs });
      }
    })();
  // More old rows than one prune chunk.
  add(40 * DAY, 12_000, "old");
  add(2 * DAY, 50, "two-days");
  add(0, 50, "new");
  const count = (prefix: string) =>
    store.db
      .prepare("SELECT count(*) FROM request_log WHERE request_id LIKE ?")
      .pluck()
      .get(`${prefix}-%`) as number;

  const log = openRequestLog({ path, retentionDays: 30, log: silentLog(), pruneEveryMs: 20 });
  t.after(() => log.close());
  await waitFor("rows older than 30 days to be pruned", () => count("old") === 0, 10_000);
  assert.equal(count("two-days"), 50);
  assert.equal(count("new"), 50);

  log.setRetention(1);
  await waitFor("rows older than 1 day to be pruned", () => count("two-days") === 0, 10_000);
  assert.equal(count("new"), 50);
  assert.equal(log.stats().lastError, null);
});
