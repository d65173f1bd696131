import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { UsageRow } from "../lib/cli/usage-report.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// `usage --by` groups the request log by any of user, model, server, day and hour, in the
// order given; every report ends with totals that count every row, and probes are nobody's.

const DAY = 86_400_000;
const HOUR = 3_600_000;

function seed(dir: string) {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const dayA = today - 2 * DAY;
  const dayB = today - DAY;
  const database = join(dir, "usage.sqlite3");
  seedRequestLog(database, [
    logRow({ ts: dayA + 3 * HOUR, user_name: "alice", model: "llama3:latest", server: "gpu1" }),
    logRow({ ts: dayA + 3 * HOUR + 60_000, user_name: "alice", model: "llama3:latest", server: "gpu1" }),
    logRow({ ts: dayB + 5 * HOUR, user_name: "alice", model: "llama3:latest", server: "gpu2" }),
    logRow({
      ts: dayA + 4 * HOUR,
      user_name: "bob",
      model: "mistral:7b",
      server: "gpu1",
      status: 500,
      error_code: "upstream_error",
      prompt_tokens: null,
      completion_tokens: null,
    }),
    logRow({
      ts: dayB + 5 * HOUR + 1,
      user_name: "bob",
      model: "llama3:latest",
      server: "gpu2",
      prompt_tokens: 5,
    }),
    // A refused token: nobody's, but a request and an error all the same.
    logRow({
      ts: dayB + 6 * HOUR,
      user_id: null,
      user_name: null,
      model: null,
      server: null,
      status: 401,
      error_code: "unauthorized",
      prompt_tokens: null,
      completion_tokens: null,
    }),
    // Probes: logged, and in no report.
    logRow({
      ts: dayB + 7 * HOUR,
      path: "/health",
      method: "GET",
      user_name: null,
      model: null,
      server: null,
    }),
    logRow({
      ts: dayB + 7 * HOUR,
      path: "/metrics",
      method: "GET",
      user_name: null,
      model: null,
      server: null,
    }),
  ]);
  return { database, dayA, dayB };
}

interface Report {
  by: string[];
  rows: UsageRow[];
  totals: Record<string, number>;
  more_rows: number;
}

async function report(database: string, ...args: string[]): Promise<Report> {
  const r = await runCli(["usage", "--database", database, "--since", "3d", "--json", ...args]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Report;
}

test("by user and model (the default), by day, by server and model, by hour; totals count every row", async (t) => {
  const { database, dayA, dayB } = seed(tempDir(t));
  const iso = (ms: number) => new Date(ms).toISOString();

  const byUserModel = await report(database);
  assert.deepEqual(byUserModel.by, ["user", "model"]);
  assert.deepEqual(
    byUserModel.rows.map((r) => [
      r.user,
      r.model,
      r.requests,
      r.errors,
      r.prompt_tokens,
      r.completion_tokens,
    ]),
    [
      [null, null, 1, 1, 0, 0],
      ["alice", "llama3:latest", 3, 0, 30, 60],
      ["bob", "llama3:latest", 1, 0, 5, 20],
      ["bob", "mistral:7b", 1, 1, 0, 0],
    ],
  );
  assert.deepEqual(byUserModel.totals, {
    requests: 6,
    errors: 2,
    aborted: 0,
    prompt_tokens: 35,
    completion_tokens: 80,
  });
  assert.equal(byUserModel.more_rows, 0);

  const byDay = await report(database, "--by", "day");
  assert.deepEqual(
    byDay.rows.map((r) => [r.day, r.requests, r.errors]),
    [
      [iso(dayA).slice(0, 10), 3, 1],
      [iso(dayB).slice(0, 10), 3, 1],
    ],
  );
  assert.equal(Object.hasOwn(byDay.rows[0]!, "user"), false, "only the keys of --by");

  const byServerModel = await report(database, "--by", "server,model");
  assert.deepEqual(
    byServerModel.rows.map((r) => [r.server, r.model, r.requests]),
    [
      [null, null, 1],
      ["gpu1", "llama3:latest", 2],
      ["gpu1", "mistral:7b", 1],
      ["gpu2", "llama3:latest", 2],
    ],
  );

  const byHour = await report(database, "--by", "hour", "--user", "alice");
  assert.deepEqual(
    byHour.rows.map((r) => [r.hour, r.requests]),
    [
      [`${iso(dayA + 3 * HOUR).slice(0, 13)}:00Z`, 2],
      [`${iso(dayB + 5 * HOUR).slice(0, 13)}:00Z`, 1],
    ],
  );
  assert.equal(byHour.totals.requests, 3);
});

test("the table: a column per key, counts for people, and a TOTAL row", async (t) => {
  const { database } = seed(tempDir(t));
  const r = await runCli(["usage", "--database", database, "--since", "3d", "--by", "model,user"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.match(
    lines[0]!,
    /^Usage in the last 3d \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), by model, user:$/,
  );
  assert.match(
    lines[1]!,
    /^MODEL\s+USER\s+REQUESTS\s+ERRORS\s+PROMPT TOK\s+COMPL TOK\s+MEDIAN\s+P95\s+TTFT\s+TOK\/S$/,
  );
  assert.match(lines[2]!, /^-\s+-\s+1\s+1\s+0\s+0\s+1\.00 s\s+1\.00 s\s+-\s+30\.0$/);
  assert.match(lines[3]!, /^llama3:latest\s+alice\s+3\s+0\s+30\s+60\s+1\.00 s\s+1\.00 s\s+100 ms\s+30\.0$/);
  assert.match(lines.at(-1)!, /^TOTAL\s+6\s+2\s+35\s+80$/);
  assert.equal(lines.length, 7);
});

test("a window with nothing in it says so", async (t) => {
  const { database } = seed(tempDir(t));
  const r = await runCli(["usage", "--database", database, "--since", "1h"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^No requests in the last 1h \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.$/);
  const json = await runCli(["usage", "--database", database, "--since", "1h", "--json"]);
  assert.deepEqual(JSON.parse(json.out).rows, []);
  assert.equal(JSON.parse(json.out).totals.requests, 0);
});
