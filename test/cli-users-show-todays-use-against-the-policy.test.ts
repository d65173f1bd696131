import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { DAY_MS, nextUtcMidnight } from "../lib/policy/today.js";
import { openStore, type Store } from "../lib/store/open.js";
import { cliSetup, runCli } from "./helpers.js";

// `users show NAME`: the user, its policy's rules, and today's use against them — tokens from
// the request log, requests in the last minute and in flight from what the running server
// reported (policy_usage), flagged when that report is old.

const POLICIES = {
  interactive: { weight: 4 },
  batch: {
    models: ["llama3*", "qwen*", "!*70b*"],
    weight: 0.25,
    max_concurrent: 32,
    requests_per_minute: 600,
    tokens_per_day: 2_000_000,
    options: { num_ctx_max: 8192, keep_alive: "5m" },
  },
};

function setup(t: Parameters<typeof cliSetup>[0]) {
  const s = cliSetup(t);
  writeFileSync(
    s.file,
    stringify({
      test: {
        database: s.database,
        servers: {},
        logging: { level: "silent", dir: null },
        policies: POLICIES,
      },
    }),
  );
  const store = openStore(s.database);
  t.after(() => store.close());
  return { ...s, store };
}

function logRow(store: Store, user: string, ts: number, prompt: number, completion: number): void {
  store.db
    .prepare(
      `INSERT INTO request_log (ts, request_id, user_id, user_name, client, method, path, model, status, attempts,
         bytes_in, bytes_out, duration_ms, prompt_tokens, completion_tokens, client_aborted)
       VALUES (?, ?, 1, ?, '127.0.0.1', 'POST', '/api/chat', 'llama3:latest', 200, 1, 10, 10, 100, ?, ?, 0)`,
    )
    .run(ts, `r${ts}${user}`, user, prompt, completion);
}

async function show(args: string[], name: string, json = false): Promise<string> {
  const r = await runCli(["users", "show", name, ...(json ? ["--json"] : []), ...args]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  return r.out;
}

test("a user under a limited policy: its rules, today's tokens, and the server's live counts", async (t) => {
  const { args, store } = setup(t);
  store.users.create("ann", { policy: "batch" });
  const now = Date.now();
  const dayStart = Math.floor(now / DAY_MS) * DAY_MS;
  logRow(store, "ann", Math.max(dayStart, now - 60_000), 12_000, 28_000);
  logRow(store, "ann", Math.max(dayStart, now - 30_000), 5_000, 5_000);
  logRow(store, "ann", dayStart - 3_600_000, 900_000, 900_000); // yesterday
  logRow(store, "bob", Math.max(dayStart, now - 10_000), 1, 1); // someone else
  store.db.prepare("INSERT INTO policy_usage VALUES ('ann', 3, 42, ?)").run(now - 1000);

  const resets = new Date(nextUtcMidnight(now)).toISOString().slice(0, 16).replace("T", " ");
  const text = await show(args, "ann");
  assert.equal(
    text.split("\n").slice(3).join("\n"),
    [
      "Policy:                 batch",
      "  models:               llama3*, qwen*, !*70b*",
      "  max_concurrent:       32",
      "  requests_per_minute:  600",
      "  tokens_per_day:       2000000",
      "  weight:               0.25",
      "  options:              num_ctx_max 8192, keep_alive 5m",
      "Today (UTC):",
      `  tokens:               50000 of 2000000 (2.5%); resets ${resets} UTC`,
      "  requests last minute: 42 of 600",
      "  in flight:            3 of 32",
    ].join("\n"),
  );
  assert.match(text.split("\n")[0]!, /^User: +ann \(user, active\)$/);

  const json = JSON.parse(await show(args, "ann", true)) as Record<string, unknown>;
  assert.equal(json.name, "ann");
  assert.equal(json.policy, "batch");
  assert.equal(json.policy_source, "assigned");
  assert.equal(json.effective_policy, "batch");
  assert.deepEqual(json.rules, {
    models: ["llama3*", "qwen*", "!*70b*"],
    max_concurrent: 32,
    requests_per_minute: 600,
    tokens_per_day: 2_000_000,
    weight: 0.25,
    options: { num_ctx_max: 8192, num_predict_max: null, keep_alive: "5m" },
  });
  assert.deepEqual(json.today, {
    tokens: 50_000,
    tokens_per_day: 2_000_000,
    resets_at: new Date(nextUtcMidnight(now)).toISOString(),
    requests_last_minute: 42,
    requests_per_minute: 600,
    in_flight: 3,
    max_concurrent: 32,
    reported_at: new Date(now - 1000).toISOString(),
    stale: false,
  });
});

test("no report means idle; an old report is flagged", async (t) => {
  const { args, store } = setup(t);
  store.users.create("ann", { policy: "batch" });
  store.users.create("bob", { policy: "batch" });
  store.db.prepare("INSERT INTO policy_usage VALUES ('bob', 1, 1, ?)").run(Date.now() - 120_000);

  const ann = await show(args, "ann");
  assert.match(ann, /\n {2}requests last minute: 0 of 600\n {2}in flight: {12}0 of 32$/);
  const bob = await show(args, "bob");
  assert.match(
    bob,
    /\n {2}in flight: {12}1 of 32\n {2}\(last reported by the server at .* UTC, over 30 s ago: is it running\?\)$/,
  );
  assert.equal(
    (JSON.parse(await show(args, "bob", true)) as { today: { stale: boolean } }).today.stale,
    true,
  );
});

test("a policy without limits, no policy at all, and a policy the config does not define", async (t) => {
  const { args, store } = setup(t);
  store.users.create("ivy", { policy: "interactive" });
  store.users.create("ned");
  store.users.create("cy", { policy: "gold" });

  const ivy = await show(args, "ivy");
  assert.match(ivy, /\nPolicy: +interactive\n {2}models: +\*\n {2}max_concurrent: +no limit\n/);
  assert.match(ivy, /\n {2}options: +none \(bodies pass unchanged\)\n/);
  assert.match(
    ivy,
    /\n {2}tokens: +0 \(no limit\)\n {2}requests last minute: not counted \(policy "interactive" sets no limits\)\n {2}in flight: +not counted \(policy "interactive" sets no limits\)$/,
  );

  const ned = await show(args, "ned");
  assert.match(ned, /\nPolicy: +none: no limits \(the config defines no `default` policy\)\n/);
  assert.match(ned, /in flight: +not counted \(no policy\)$/);
  const nedJson = JSON.parse(await show(args, "ned", true)) as Record<string, unknown>;
  assert.deepEqual(
    [nedJson.policy, nedJson.policy_source, nedJson.effective_policy, nedJson.rules],
    [null, "none", null, null],
  );

  const cy = await show(args, "cy");
  assert.match(cy, /\nPolicy: +gold — NOT DEFINED in .*ollama_proxy\.yml \[test\]\n/);
  assert.match(
    cy,
    /\n {2}Every request of cy is refused \(403\) until the config defines "gold" or another\n {2}policy is assigned: ollama-proxy users set cy --policy NAME \(defined: batch, interactive\)\n/,
  );
  assert.equal(
    (JSON.parse(await show(args, "cy", true)) as { policy_source: string }).policy_source,
    "undefined",
  );
});
