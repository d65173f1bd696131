import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { tempDir } from "./helpers.js";

// Rails config files share settings between environments with an anchored `default`
// section merged in by `<<: *default`. Ruby's YAML merges those keys; so must we, or such
// a file written for the original proxy fails with "<<: unknown key".

const RAILS_STYLE = `
default: &default
  proxy_port: 11434
  servers:
    high_performance:
      host: "localhost"
      port: 11435
      priority: 1
      max_memory_gb: null
  model_config: &models
    memory_patterns:
      - pattern: ".*-7b.*"
        memory_gb: 4.5

development:
  <<: *default
  proxy_port: 11400

production:
  <<: *default
  bind: "0.0.0.0"
  model_config:
    <<: *models
    default_memory_gb: 12
`;

test("`<<: *default` sections inherit, and their own keys win", (t) => {
  const file = join(tempDir(t), "ollama_proxy.yml");
  writeFileSync(file, RAILS_STYLE);
  const load = (env: string) => loadConfig({ file, env, environ: {} }).config;

  const dev = load("development");
  assert.equal(dev.proxyPort, 11400, "the section's own key overrides the default");
  assert.deepEqual(
    dev.servers.map((s) => s.origin),
    ["http://localhost:11435"],
  );
  assert.equal(dev.models.memoryPatterns.length, 1);

  const prod = load("production");
  assert.equal(prod.proxyPort, 11434, "inherited");
  assert.equal(prod.bind, "0.0.0.0");
  assert.equal(prod.models.defaultMemoryGb, 12);
  assert.equal(prod.models.memoryPatterns[0]?.memoryGb, 4.5, "merged one level down too");
});
