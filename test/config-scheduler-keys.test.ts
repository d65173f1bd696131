import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// SPEC §10's keys: servers.NAME.parallel and .max_loaded_models, and the scheduler section.
// All optional (a Rails config loads unchanged and schedules nothing); each mistake named by path.

function load(t: Parameters<typeof tempDir>[0], yaml: string) {
  const file = join(tempDir(t), "c.yml");
  writeFileSync(file, `production:\n  ${yaml}\n`);
  return loadConfig({ file, env: "production", environ: {} }).config;
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

test("left out: no slot limit, no known model capacity, the scheduler's defaults", (t) => {
  const c = load(t, "servers:\n    gpu:\n      host: a\n      port: 1");
  assert.equal(c.servers[0]?.parallel, null);
  assert.equal(c.servers[0]?.maxLoadedModels, null);
  assert.deepEqual(c.scheduler, {
    maxQueue: 1000,
    maxWaitSeconds: 300,
    modelAffinityMs: 2000,
    fairShareWindowSeconds: 300,
  });
});

test("set: parallel, max_loaded_models and every scheduler key", (t) => {
  const c = load(
    t,
    [
      "servers:",
      "    gpu:",
      "      host: a",
      "      port: 1",
      "      parallel: 4",
      "      max_loaded_models: 2",
      "    cpu:",
      "      host: b",
      "      port: 1",
      "      parallel: null",
      "  scheduler:",
      "    max_queue: 50",
      "    max_wait_seconds: 30",
      "    model_affinity_ms: 0",
      "    fair_share_window_seconds: 120",
    ].join("\n"),
  );
  const gpu = c.servers.find((s) => s.key === "gpu");
  assert.equal(gpu?.parallel, 4);
  assert.equal(gpu?.maxLoadedModels, 2);
  assert.equal(c.servers.find((s) => s.key === "cpu")?.parallel, null);
  assert.deepEqual(c.scheduler, {
    maxQueue: 50,
    maxWaitSeconds: 30,
    modelAffinityMs: 0,
    fairShareWindowSeconds: 120,
  });
});

test("each mistake is one `path: message` line", (t) => {
  const server = "servers:\n    gpu:\n      host: a\n      port: 1\n      ";
  const cases: [string, string][] = [
    [`${server}parallel: 0`, "production.servers.gpu.parallel: must be >= 1"],
    [`${server}parallel: 1.5`, "production.servers.gpu.parallel: must be integer,null"],
    [`${server}parallel: many`, "production.servers.gpu.parallel: must be integer,null"],
    [`${server}max_loaded_models: 0`, "production.servers.gpu.max_loaded_models: must be >= 1"],
    ["scheduler:\n    max_queue: -1", "production.scheduler.max_queue: must be >= 0"],
    ["scheduler:\n    max_wait_seconds: 0", "production.scheduler.max_wait_seconds: must be > 0"],
    ["scheduler:\n    model_affinity_ms: 1.5", "production.scheduler.model_affinity_ms: must be integer"],
    [
      "scheduler:\n    fair_share_window_seconds: 0",
      "production.scheduler.fair_share_window_seconds: must be > 0",
    ],
    ["scheduler:\n    max_queu: 5", "production.scheduler.max_queu: unknown key"],
  ];
  for (const [yaml, expected] of cases) assert.deepEqual(problemsOf(t, yaml), [expected], yaml);
});
