import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createPolicies } from "../lib/policy/policies.js";
import { readTokensToday } from "../lib/policy/today.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";
import { configWith, policyConfig, user } from "./policy-helpers.js";

// A restart must not hand out a new quota: at start the server reads today's totals from the
// request log (one query) and carries on from there. A request counts on the UTC day it finished.

const DAY = Date.UTC(2025, 2, 14);
const H = 3_600_000;

test("today's tokens per user come from the request log, by the day each request finished", (t) => {
  const store = openStore(join(tempDir(t), "proxy.sqlite3"));
  t.after(() => store.close());
  const insert = store.db.prepare(
    `INSERT INTO request_log (ts, request_id, user_id, user_name, client, method, path, model, status, attempts,
       bytes_in, bytes_out, duration_ms, prompt_tokens, completion_tokens, client_aborted)
     VALUES (?, ?, 1, ?, '127.0.0.1', 'POST', '/api/chat', 'llama3:latest', 200, 1, 10, 10, ?, ?, ?, 0)`,
  );
  let n = 0;
  const row = (
    ts: number,
    name: string | null,
    prompt: number | null,
    completion: number | null,
    durationMs = 1000,
  ) => insert.run(ts, `r${n++}`, name, durationMs, prompt, completion);
  row(DAY + 9 * H, "kim", 100, 200);
  row(DAY + 10 * H, "kim", 50, null); // a response without completion tokens (an error mid-way)
  row(DAY + 11 * H, "kim", null, null); // a refused request: no tokens
  row(DAY - 1 * H, "kim", 7000, 7000); // yesterday
  row(DAY - 60_000, "kim", 30, 40, 120_000); // started yesterday, finished today: today's
  row(DAY - 2 * 86_400_000, "kim", 1, 1); // long ago
  row(DAY + 12 * H, "lou", 5, 5);
  row(DAY + 13 * H, null, 1000, 1000); // a request without a user (a probe)
  row(DAY + 25 * H, "kim", 9, 9); // tomorrow (a clock that jumped): not today's

  const now = DAY + 14 * H;
  assert.deepEqual(
    readTokensToday(store.db, now),
    new Map([
      ["kim", 420],
      ["lou", 10],
    ]),
  );
  assert.deepEqual(readTokensToday(store.db, now, "lou"), new Map([["lou", 10]]));
  assert.deepEqual(readTokensToday(store.db, now, "nobody"), new Map());

  // What the server does at start: restore, then the quota is what is left of the day.
  const policies = createPolicies(configWith([policyConfig("batch", { tokensPerDay: 420 })]));
  policies.restore(readTokensToday(store.db, now), now);
  const kim = policies.forUser(user("kim", "batch"));
  assert.ok(kim !== null && !(kim instanceof ProxyError));
  const refused = policies.begin(user("kim", "batch"), kim, now);
  assert.ok(refused instanceof ProxyError, "the restarted server remembers the day's 420 tokens");
  assert.match(refused.message, /has used 420 of the 420 tokens per day/);
  assert.ok(!(policies.begin(user("lou", "batch"), kim, now) instanceof ProxyError));

  // Restoring again (a reload) never lowers what the running server counted since.
  policies.restore(new Map([["kim", 10]]), now);
  assert.equal(policies.tokensToday("kim", now), 420);
  // And yesterday's totals do not leak into a new day.
  assert.equal(policies.tokensToday("kim", DAY + 86_400_000), 0);
});
