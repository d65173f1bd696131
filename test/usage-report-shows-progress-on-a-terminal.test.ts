import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { Io } from "../lib/cli/io.js";
import { usage } from "../lib/cli/usage-report.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { tempDir } from "./helpers.js";

// A report that takes a while shows a progress line on a terminal (an Io with `progress`:
// stderr is a TTY) and clears it before the report; scripts and pipes (no `progress`) never
// see one. The delay before the first line (1 s for people) is 0 here, so that even a small
// report draws it.

const args = (database: string) => ({
  database,
  since: "1d",
  by: "user,model",
  format: "table",
  json: false,
});

function seed(t: Parameters<typeof tempDir>[0]): string {
  const database = join(tempDir(t), "usage.sqlite3");
  const now = Date.now();
  seedRequestLog(
    database,
    Array.from({ length: 50 }, (_, i) => logRow({ ts: now - 1000 - i, user_name: `u${i % 5}` })),
  );
  return database;
}

test("on a terminal: a progress line with the share done, cleared before the report is printed", async (t) => {
  const database = seed(t);
  const events: string[] = [];
  const io: Io = {
    out: (s) => events.push(`out: ${s.split("\n")[0]}`),
    err: (s) => events.push(`err: ${s}`),
    progress: (line) => events.push(line === null ? "clear" : `progress: ${line}`),
  };
  assert.equal(await usage(args(database), io, { progressAfterMs: 0 }), 0);
  const progress = events.filter((e) => e.startsWith("progress: "));
  assert.ok(progress.length >= 1, events.join("\n"));
  assert.match(
    progress.at(-1)!,
    /^progress: usage: reading the request log… \d+%, \d+ of 50 requests, \d+\.\d s$/,
  );
  const cleared = events.indexOf("clear");
  assert.ok(cleared > events.lastIndexOf(progress.at(-1)!), "cleared after the last progress line");
  assert.ok(cleared < events.findIndex((e) => e.startsWith("out: Usage")), "cleared before the report");
});

test("without a terminal: no progress line at all", async (t) => {
  const database = seed(t);
  const out: string[] = [];
  const io: Io = { out: (s) => out.push(s), err: (s) => out.push(s) };
  assert.equal(await usage(args(database), io, { progressAfterMs: 0 }), 0);
  assert.doesNotMatch(out.join("\n"), /reading the request log/);
  assert.match(out[0]!, /^Usage in the last 1d/);
});
