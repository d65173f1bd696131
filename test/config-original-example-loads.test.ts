import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { ROOT, tempDir } from "./helpers.js";

// The example config of the original Rails ollama-proxy (its README, copied verbatim into the
// fixture) must load unchanged: operators bring their existing file.

const ORIGINAL = join(ROOT, "test/fixtures/original-config.yml");

test("the original's example config loads unchanged for production", (t) => {
  const cwd = tempDir(t);
  const { config } = loadConfig({ file: ORIGINAL, env: "production", environ: {}, cwd });

  assert.equal(config.env, "production");
  assert.equal(config.proxyPort, 11434);
  assert.equal(config.bind, "0.0.0.0", "production listens on every interface by default");
  assert.deepEqual(
    config.servers.map((s) => [s.key, s.name, s.origin, s.priority, s.maxMemoryGb, s.enabled]),
    [
      ["high_performance", "high_performance", "http://localhost:11435", 1, null, true],
      ["legacy", "legacy", "http://localhost:11436", 2, 8, true],
    ],
  );
  assert.equal(config.externalHosts.length, 1);
  const openai = config.externalHosts[0]!;
  assert.deepEqual(
    [openai.key, openai.type, openai.origin, openai.apiKeyEnv, openai.enabled],
    ["openai", "openai", "https://api.openai.com:443", "OPENAI_API_KEY", false],
  );
  assert.equal(config.models.explicitAssignments.get("gpt-4:latest")?.target, "openai");
  assert.equal(config.models.explicitAssignments.get("claude-3-sonnet:latest")?.target, "anthropic");
  assert.equal(config.models.memoryOverrides.get("custom-model-70b:latest"), 40);
  assert.deepEqual(
    config.models.memoryPatterns.map((p) => [p.source, p.memoryGb]),
    [
      [".*-7b.*", 4.5],
      [".*-70b.*", 40],
    ],
  );
  assert.ok(config.models.memoryPatterns[0]!.regex.test("mistral-7b-instruct"));
  assert.equal(config.database, join(cwd, "db/production.sqlite3"));
  assert.equal(config.policies, null, "no policies: every user unlimited, as in the original");
});

test("the undefined anthropic assignment is a warning naming its path, not an error", (t) => {
  const { warnings } = loadConfig({ file: ORIGINAL, env: "production", environ: {}, cwd: tempDir(t) });
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0]!, /^production\.model_config\.explicit_assignments\.claude-3-sonnet: "anthropic"/);
});
