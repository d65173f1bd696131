import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { cliSetup, runCli } from "./helpers.js";

// Rows written before model names were checked may hold anything. `ollama-proxy usage` prints
// them escaped: a stored "\r\n" cannot forge a row, an ANSI sequence cannot hide one.

test("usage prints a stored model name with control characters escaped", async (t) => {
  const { database, args } = cliSetup(t);
  const store = openStore(database);
  const insert = store.db.prepare(
    `INSERT INTO request_log (ts, request_id, user_name, client, method, path, model, status, attempts,
       bytes_in, bytes_out, duration_ms, client_aborted)
     VALUES (?, ?, 'mallory', '127.0.0.1', 'POST', '/api/generate', ?, 200, 1, 10, 10, 5, 0)`,
  );
  const now = Date.now();
  insert.run(now - 1000, "r1", "llama3\r\nalice  llama3:latest  999");
  insert.run(now - 900, "r2", "\u001b[8mhidden\u001b[0m");
  store.close();

  const { code, out, err } = await runCli(["usage", ...args]);
  assert.equal(code, 0, err);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the test.
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(out), JSON.stringify(out));
  const rows = out.split("\n").filter((l) => l.startsWith("mallory"));
  assert.equal(rows.length, 2, out);
  assert.ok(
    rows.some((l) => l.includes(String.raw`llama3\r\nalice  llama3:latest  999`)),
    out,
  );
  assert.ok(
    rows.some((l) => l.includes(String.raw`\u001b[8mhidden\u001b[0m`)),
    out,
  );
  assert.ok(!out.split("\n").some((l) => l.startsWith("alice")), "no forged alice row");
});
