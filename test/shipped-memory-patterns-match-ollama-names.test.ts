import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { RoutingTable } from "../lib/routing/table.js";
import { ROOT } from "./helpers.js";

// The shipped memory_patterns must match the names Ollama really uses (`llama3.1:70b`, with
// a colon) as well as the dash form people write (`custom-model-70b`); the original's
// `.*-70b.*` matched only the latter and silently estimated a 70B model at the default 8 GB.

for (const [file, env] of [
  ["config/ollama_proxy.yml", "development"],
  ["config/ollama_proxy.yml", "production"],
  ["packaging/config.yml", "production"],
] as const) {
  test(`${file} [${env}]: patterns match Ollama's names and the dash form`, () => {
    const { config } = loadConfig({ file: join(ROOT, file), env, environ: {} });
    const table = new RoutingTable(config, [], [], Date.now());
    const need = (model: string) => table.memoryNeed(model);
    for (const [model, gb] of [
      ["llama3.1:70b", 40],
      ["llama3.3:70b-instruct-q4_K_M", 40],
      ["some-model-70b:latest", 40],
      ["qwen2.5:7b", 4.5],
      ["mistral:7b-instruct", 4.5],
      ["llama2-7b:latest", 4.5],
    ] as const) {
      const got = need(model);
      assert.deepEqual([model, got.gb], [model, gb], `${model}: ${got.from}`);
      assert.match(got.from, /^memory_patterns /);
    }
    // Neither pattern is fooled by a 70B look-alike or a 7B inside another number.
    assert.equal(need("qwen2.5:72b").gb, config.models.defaultMemoryGb);
    assert.equal(need("phi3:17b").gb, config.models.defaultMemoryGb);
  });
}
