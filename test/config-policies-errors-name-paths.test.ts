import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// `policies:` is checked like the rest of the file: every problem named by its path, all at
// once, before anything starts.

function load(t: Parameters<typeof tempDir>[0], yaml: string) {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  writeFileSync(file, yaml);
  return loadConfig({ file, env: "production", environ: {}, cwd: dir });
}

function problemsOf(t: Parameters<typeof tempDir>[0], yaml: string): readonly string[] {
  try {
    load(t, yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("the file loaded");
}

test("every mistake in policies is one `path: message` line, all reported together", (t) => {
  const problems = problemsOf(
    t,
    `production:
  policies:
    default: { models: ["*"], max_concurrent: 0 }
    batch:
      models: ["llama3*", "qwen*", "!"]
      weight: 0
      requests_per_minute: 1.5
      tokens_per_day: "lots"
      burst: 10
      options: { num_ctx_max: -1, keep_alive: "5 minutes", top_k: 3 }
    guest:
      models: "llama3"
      options: { keep_alive: true }
    "bad name":
      weight: 1
    other:
      models: ["!!llama3", "llama 3"]
      options: { keep_alive: "1h30x" }
`,
  );
  const want = [
    "production.policies.default.max_concurrent: must be >= 1",
    "production.policies.batch.weight: must be > 0",
    "production.policies.batch.requests_per_minute: must be integer,null",
    "production.policies.batch.tokens_per_day: must be integer,null",
    "production.policies.batch.burst: unknown key",
    "production.policies.batch.options.num_ctx_max: must be >= 1",
    "production.policies.batch.options.top_k: unknown key",
    "production.policies.guest.models: must be array",
    // The schema coerces scalars (as everywhere in the file): true is read as "true".
    'production.policies.guest.options.keep_alive: "true" is not a duration Ollama accepts (like "5m", "1h30m", 0, or -1 for forever)',
    'production.policies.batch.models.2: "!" must be followed by a pattern, as in "!*70b*"',
    'production.policies.batch.options.keep_alive: "5 minutes" is not a duration Ollama accepts (like "5m", "1h30m", 0, or -1 for forever)',
    "production.policies.bad name: invalid policy name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    'production.policies.other.models.0: "!!llama3": one "!" excludes; two are not a pattern',
    'production.policies.other.models.1: "llama 3": a model pattern has no spaces',
    'production.policies.other.options.keep_alive: "1h30x" is not a duration Ollama accepts (like "5m", "1h30m", 0, or -1 for forever)',
  ];
  for (const w of want) assert.ok(problems.includes(w), `missing: ${w}\ngot:\n${problems.join("\n")}`);
  assert.equal(problems.length, want.length, problems.join("\n"));
});

test("SPEC's example loads into typed policies with their defaults", (t) => {
  const { config, warnings } = load(
    t,
    `production:
  policies:
    default: { models: ["*"], max_concurrent: 8 }
    interactive: { weight: 4 }
    guest:
    batch:
      models: ["llama3*", "qwen*", "!*70b*"]
      weight: 0.25
      max_concurrent: 32
      requests_per_minute: 600
      tokens_per_day: 2000000
      options: { num_ctx_max: 8192, keep_alive: "5m" }
    pinned:
      options: { keep_alive: -1, num_predict_max: 256 }
    exclusions-only:
      models: ["!*70b*"]
`,
  );
  assert.deepEqual(
    [...(config.policies?.keys() ?? [])],
    ["default", "interactive", "guest", "batch", "pinned", "exclusions-only"],
  );
  assert.deepEqual(config.policies?.get("batch"), {
    name: "batch",
    models: ["llama3*", "qwen*", "!*70b*"],
    maxConcurrent: 32,
    requestsPerMinute: 600,
    tokensPerDay: 2_000_000,
    weight: 0.25,
    options: { numCtxMax: 8192, numPredictMax: null, keepAlive: "5m" },
  });
  const none = {
    models: ["*"],
    maxConcurrent: null,
    requestsPerMinute: null,
    tokensPerDay: null,
    options: null,
  };
  assert.deepEqual(config.policies?.get("interactive"), { name: "interactive", ...none, weight: 4 });
  assert.deepEqual(config.policies?.get("guest"), { name: "guest", ...none, weight: 1 });
  assert.deepEqual(config.policies?.get("pinned")?.options, {
    numCtxMax: null,
    numPredictMax: 256,
    keepAlive: -1,
  });
  assert.ok(Object.isFrozen(config.policies?.get("batch")?.models), "the config is frozen");
  assert.deepEqual(warnings, [
    'production.policies.exclusions-only.models: no pattern includes a model, so users of "exclusions-only" may use none (start the list with "*" to allow all but the exclusions)',
  ]);
});

test("no policies key, or an empty one, means no limits", (t) => {
  assert.equal(load(t, "production:\n  proxy_port: 11434\n").config.policies, null);
  assert.equal(load(t, "production:\n  policies:\n").config.policies, null);
  assert.equal(load(t, "production:\n  policies: {}\n").config.policies?.size, 0);
});
