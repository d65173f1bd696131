import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { UsageRow } from "../lib/cli/usage-report.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// Median and p95 are values that occurred (SQLite's percentile_disc: the ⌊p·(n−1)⌋+1-th
// smallest), computed per group inside SQLite; a refused request's TTFT is no TTFT, and a
// request without a rate (embeddings) does not count as a rate of zero.

test("median and p95 of durations, median TTFT of successes, median tokens/s of those that have one", async (t) => {
  const database = join(tempDir(t), "usage.sqlite3");
  const now = Date.now();
  const rows = [];
  // user "hundred": durations 1..100 ms.
  for (let i = 1; i <= 100; i++)
    rows.push(logRow({ ts: now - 1000 - i, user_name: "hundred", duration_ms: i }));
  // user "four": durations 4, 1, 3, 2; TTFT only from the successes; one rate missing.
  rows.push(logRow({ ts: now - 1000, user_name: "four", duration_ms: 4, ttft_ms: 40, tokens_per_s: 10 }));
  rows.push(logRow({ ts: now - 1001, user_name: "four", duration_ms: 1, ttft_ms: 10, tokens_per_s: 20 }));
  rows.push(logRow({ ts: now - 1002, user_name: "four", duration_ms: 3, ttft_ms: 30, tokens_per_s: null }));
  rows.push(
    logRow({ ts: now - 1003, user_name: "four", duration_ms: 2, ttft_ms: 1, status: 502, tokens_per_s: 40 }),
  );
  seedRequestLog(database, rows);

  const r = await runCli(["usage", "--database", database, "--by", "user", "--json"]);
  assert.equal(r.code, 0, r.err);
  const byUser = new Map((JSON.parse(r.out).rows as UsageRow[]).map((row) => [row.user, row]));
  const hundred = byUser.get("hundred")!;
  assert.equal(hundred.median_duration_ms, 50);
  assert.equal(hundred.p95_duration_ms, 95);
  const four = byUser.get("four")!;
  assert.deepEqual(
    [
      four.median_duration_ms,
      four.p95_duration_ms,
      four.median_ttft_ms,
      four.median_tokens_per_s,
      four.errors,
    ],
    [2, 3, 30, 20, 1],
  );
});
