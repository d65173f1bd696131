import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { UsageRow } from "../lib/cli/usage-report.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// --top N keeps the N biggest rows (by requests unless --sort says otherwise) while TOTAL
// still counts everything; --format csv is for spreadsheets (quoted, formula-safe), json for scripts.

function seed(dir: string): string {
  const now = Date.now();
  const database = join(dir, "usage.sqlite3");
  const rows = [];
  // carol: many small requests; dave: few, token-heavy ones; erin: one, slow.
  for (let i = 0; i < 5; i++)
    rows.push(logRow({ ts: now - 60_000 - i, user_name: "carol", prompt_tokens: 1, completion_tokens: 1 }));
  for (let i = 0; i < 2; i++)
    rows.push(
      logRow({ ts: now - 60_000 - i, user_name: "dave", prompt_tokens: 5000, completion_tokens: 900 }),
    );
  rows.push(logRow({ ts: now - 60_000, user_name: "erin", duration_ms: 90_000 }));
  // A model name a client made up, as it was stored: commas, quotes and a formula.
  rows.push(logRow({ ts: now - 60_000, user_name: "mallory", model: '=HYPERLINK("x","y"),1' }));
  seedRequestLog(database, rows);
  return database;
}

async function json(database: string, ...args: string[]) {
  const r = await runCli(["usage", "--database", database, "--by", "user", "--format", "json", ...args]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as {
    rows: UsageRow[];
    totals: { requests: number };
    more_rows: number;
    sort: string;
  };
}

test("--top keeps the biggest rows by requests; --sort picks the column; TOTAL counts them all", async (t) => {
  const database = seed(tempDir(t));
  const top = await json(database, "--top", "2");
  assert.equal(top.sort, "requests");
  assert.deepEqual(
    top.rows.map((r) => [r.user, r.requests]),
    [
      ["carol", 5],
      ["dave", 2],
    ],
  );
  assert.equal(top.more_rows, 2);
  assert.equal(top.totals.requests, 9);

  const tokens = await json(database, "--sort", "tokens", "--top", "1");
  assert.deepEqual(
    tokens.rows.map((r) => r.user),
    ["dave"],
  );
  const slow = await json(database, "--sort", "duration", "--top", "1");
  assert.deepEqual(
    slow.rows.map((r) => r.user),
    ["erin"],
  );
  // --sort alone orders without cutting.
  const all = await json(database, "--sort", "requests");
  assert.deepEqual(
    all.rows.map((r) => r.user),
    ["carol", "dave", "erin", "mallory"],
  );

  const table = await runCli(["usage", "--database", database, "--by", "user", "--top", "2"]);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.split("\n");
  assert.match(lines.at(-2)!, /^TOTAL\s+9\s+0\s/);
  assert.equal(lines.at(-1), "… 2 more rows not shown (--top 2); TOTAL counts them all.");
});

test("--format csv: a header, one line per row, quoted and formula-safe; --json is --format json", async (t) => {
  const database = seed(tempDir(t));
  const r = await runCli(["usage", "--database", database, "--by", "user,model", "--format", "csv"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.equal(
    lines[0],
    "user,model,requests,errors,aborted,prompt_tokens,completion_tokens,median_duration_ms,p95_duration_ms,median_ttft_ms,median_tokens_per_s",
  );
  assert.equal(lines[1], "carol,llama3:latest,5,0,0,5,5,1000,1000,100,30");
  assert.equal(lines[4], `mallory,"'=HYPERLINK(""x"",""y""),1",1,0,0,10,20,1000,1000,100,30`);
  assert.equal(lines.length, 5, "no totals line in CSV");

  const viaJson = await runCli(["usage", "--database", database, "--json"]);
  assert.equal(JSON.parse(viaJson.out).rows.length, 4);
});

test("bad --by, --top, --sort and --format values are usage errors that say what is allowed", async (t) => {
  const database = seed(tempDir(t));
  const cases: [string[], RegExp][] = [
    [
      ["--by", "user,weekday"],
      /^ollama-proxy: --by: "weekday" is not one of user, model, server, day, hour$/m,
    ],
    [["--top", "0"], /^ollama-proxy: --top: "0" is not a whole number of rows \(1 or more\)$/m],
    [["--top", "2.5"], /^ollama-proxy: --top: "2.5" is not a whole number of rows \(1 or more\)$/m],
    [
      ["--sort", "fastest"],
      /Invalid values:\n\s+Argument: sort, Given: "fastest", Choices: "key", "requests"/,
    ],
    [
      ["--format", "xml"],
      /Invalid values:\n\s+Argument: format, Given: "xml", Choices: "table", "json", "csv"/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["usage", "--database", database, ...args]);
    assert.equal(r.code, 64, args.join(" "));
    assert.match(r.err, message, args.join(" "));
    assert.equal(r.out, "");
  }
});
