import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// --since and --until take a duration ago (`24h`, or `-24h` as journalctl writes it) or an
// ISO date; the window is [since, until). A window that ends before it starts is refused.

test("durations ago, signed or not, and ISO dates", async (t) => {
  const database = join(tempDir(t), "usage.sqlite3");
  seedRequestLog(database, [
    logRow({ ts: Date.parse("2026-01-01T10:00:00Z") }),
    logRow({ ts: Date.parse("2026-01-02T10:00:00Z") }),
    logRow({ ts: Date.now() - 30 * 60_000 }),
  ]);
  const window = async (...args: string[]) => {
    const r = await runCli(["usage", "--database", database, "--json", ...args]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { since: string; until: string; totals: { requests: number } };
    return { since: Date.parse(j.since), until: Date.parse(j.until), requests: j.totals.requests };
  };

  const plain = await window("--since", "2h");
  const signed = await window("--since", "-2h");
  assert.ok(Math.abs(plain.since - signed.since) < 60_000, "-2h is 2 hours ago, like 2h");
  assert.ok(Math.abs(plain.until - Date.now()) < 60_000);
  assert.equal(signed.requests, 1);

  const day = await window("--since", "2026-01-01", "--until", "2026-01-02");
  assert.deepEqual(day, {
    since: Date.parse("2026-01-01T00:00:00Z"),
    until: Date.parse("2026-01-02T00:00:00Z"),
    requests: 1,
  });
  const hours = await window("--since", "2026-01-01T09:00", "--until", "2026-01-02T10:00:00Z");
  assert.equal(hours.requests, 1, "until is exclusive");
  const offset = await window("--since", "2026-01-02T11:00+02:00", "--until", "2026-01-03");
  assert.equal(offset.since, Date.parse("2026-01-02T09:00:00Z"));
  assert.equal(offset.requests, 1);

  const table = await runCli([
    "usage",
    "--database",
    database,
    "--since",
    "2026-01-01",
    "--until",
    "2026-01-03",
  ]);
  assert.match(table.out, /^Usage from 2026-01-01T00:00:00Z to 2026-01-03T00:00:00Z, by user, model:$/m);
});

test("a window that ends before it starts, or a time that is no time, is a usage error", async (t) => {
  const database = join(tempDir(t), "usage.sqlite3");
  seedRequestLog(database, []);
  const notATime = (flag: string, text: string) =>
    `ollama-proxy: ${flag}: "${text}" is not a duration like 90m, 24h, 30d or 2w, nor a date like 2026-03-01 or 2026-03-01T09:00`;
  const cases: [string[], RegExp | string][] = [
    [
      ["--since", "1h", "--until", "2h"],
      /^ollama-proxy: --until \S+Z is not after --since \S+Z: nothing to report$/,
    ],
    [["--since", "yesterday"], notATime("--since", "yesterday")],
    [["--since", "1d", "--until", "+5m"], notATime("--until", "+5m")],
    [["--since", "2026-02-30"], notATime("--since", "2026-02-30")],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["usage", "--database", database, ...args]);
    assert.equal(r.code, 64, args.join(" "));
    const first = r.err.split("\n")[0]!;
    if (typeof message === "string") assert.equal(first, message);
    else assert.match(first, message);
    assert.equal(r.out, "");
  }
});
