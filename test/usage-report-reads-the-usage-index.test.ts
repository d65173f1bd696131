import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { type UsageQuery, usageStatement } from "../lib/cli/usage-query.js";
import { openStore } from "../lib/store/open.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// What keeps `usage` fast on millions of rows (bench/usage-report.ts measures it): migration 4's
// covering index, read in group order for the default report, and the time index for a
// window that is a small part of the log. The plans are SQLite's own account of the query.

const DAY = 86_400_000;

function plan(database: string, q: UsageQuery): string {
  const store = openStore(database, { readonly: true });
  try {
    const { sql, params } = usageStatement(store.db, q);
    return (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[])
      .map((r) => r.detail)
      .join(" | ");
  } finally {
    store.close();
  }
}

test("a wide window reads only the usage index, by user and model with nothing to sort; a narrow one the time index", async (t) => {
  const database = join(tempDir(t), "usage.sqlite3");
  const now = Date.now();
  seedRequestLog(
    database,
    Array.from({ length: 300 }, (_, i) =>
      logRow({ ts: now - 30 * DAY + i * (DAY / 10), user_name: `u${i % 7}` }),
    ),
  );
  const month = { since: now - 31 * DAY, until: now };

  const byUserModel = plan(database, { ...month, by: ["user", "model"] });
  assert.match(byUserModel, /USING COVERING INDEX request_log_usage|USING INDEX request_log_usage/);
  assert.doesNotMatch(byUserModel, /TEMP B-TREE/, "groups come out of the index in order");

  const byDay = plan(database, { ...month, by: ["day"] });
  assert.match(byDay, /INDEX request_log_usage/, "other groupings still read the index alone");

  const lastHour = plan(database, { since: now - 3_600_000, until: now, by: ["user", "model"] });
  assert.match(lastHour, /INDEX request_log_ts \(ts>\? AND ts<\?\)/);

  // Either way, the same numbers.
  const wide = await runCli(["usage", "--database", database, "--since", "31d", "--json"]);
  const narrow = await runCli(["usage", "--database", database, "--since", "31d", "--json", "--by", "day"]);
  assert.equal(JSON.parse(wide.out).totals.requests, 300);
  assert.equal(JSON.parse(narrow.out).totals.requests, 300);
});

test("a database from before migration 4 (no usage index) gives the same report", async (t) => {
  const database = join(tempDir(t), "usage.sqlite3");
  const now = Date.now();
  seedRequestLog(database, [logRow({ ts: now - 1000 }), logRow({ ts: now - 2000, user_name: "bob" })]);
  const store = openStore(database);
  store.db.exec("DROP INDEX request_log_usage");
  store.close();
  const r = await runCli(["usage", "--database", database, "--json"]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(
    JSON.parse(r.out).rows.map((x: { user: string; requests: number }) => [x.user, x.requests]),
    [
      ["alice", 1],
      ["bob", 1],
    ],
  );
});
