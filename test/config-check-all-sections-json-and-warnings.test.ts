import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { ROOT, runCli, tempDir } from "./helpers.js";

// `config check --all` checks every environment of the file (not the templates Rails configs
// merge into them); a section with no enabled server is an error; a memory pattern that no
// model the servers report matches is a warning; --json says all of it for scripts.

test("--all: every section of the shipped file is OK", async () => {
  const r = await runCli([
    "config",
    "check",
    "--all",
    "--offline",
    "--config",
    join(ROOT, "config/ollama_proxy.yml"),
  ]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /ollama_proxy\.yml \[development\]: OK — 1 enabled server\(s\)/);
  assert.match(lines[1]!, /\[test\]: OK — 1 enabled server\(s\)/);
  assert.match(lines[2]!, /\[production\]: OK — 2 enabled server\(s\)/);
  assert.equal(r.err, "");
});

test("--all skips merge templates, and a section with every server disabled is an error (78), also in --json", async (t) => {
  const file = join(tempDir(t), "config.yml");
  writeFileSync(
    file,
    `default: &default
  proxy_port: 11400
  logging: {dir: null}
staging:
  <<: *default
  servers:
    gpu: {host: 127.0.0.1, port: 1, enabled: false}
production:
  <<: *default
  servers:
    gpu: {host: 127.0.0.1, port: 1}
`,
  );
  const r = await runCli(["config", "check", "--all", "--offline", "--config", file]);
  assert.equal(r.code, 78);
  assert.equal(
    r.out,
    `${file} [production]: OK — 1 enabled server(s), 0 external host(s), listening on 0.0.0.0:11400`,
  );
  assert.equal(
    r.err,
    `ollama-proxy: invalid configuration ${file}:\n  staging.servers: no enabled server (nor external host): the proxy would have nowhere to send requests`,
  );

  const json = await runCli(["config", "check", "--all", "--offline", "--json", "--config", file]);
  assert.equal(json.code, 78);
  assert.deepEqual(JSON.parse(json.out), {
    file,
    ok: false,
    sections: [
      {
        env: "staging",
        ok: false,
        errors: [
          "staging.servers: no enabled server (nor external host): the proxy would have nowhere to send requests",
        ],
        warnings: [],
        summary: { enabled_servers: 0, external_hosts: 0, listen: "127.0.0.1:11400", scheme: "http" },
      },
      {
        env: "production",
        ok: true,
        errors: [],
        warnings: [],
        summary: { enabled_servers: 1, external_hosts: 0, listen: "0.0.0.0:11400", scheme: "http" },
      },
    ],
  });

  const one = await runCli([
    "config",
    "check",
    "--offline",
    "--json",
    "--config",
    file,
    "--env",
    "production",
  ]);
  assert.equal(one.code, 0, one.err);
  assert.deepEqual(
    JSON.parse(one.out).sections.map((s: { env: string }) => s.env),
    ["production"],
  );
});

test("a memory pattern no reported model matches is a warning (not with --offline)", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu",
    models: [{ name: "llama3.1:70b" }, { name: "qwen2.5:7b" }, { name: "custom-model-13b:latest" }],
  });
  t.after(() => gpu.close());
  const file = join(tempDir(t), "config.yml");
  writeFileSync(
    file,
    stringify({
      production: {
        servers: { gpu: { host: "127.0.0.1", port: gpu.port } },
        logging: { dir: null },
        model_config: {
          memory_patterns: [
            { pattern: ".*-70b.*", memory_gb: 40 }, // the original's: never matches Ollama's names
            { pattern: "[:-]70b", memory_gb: 40 },
            { pattern: "[:-]13b", memory_gb: 9 },
          ],
        },
      },
    }),
  );
  const r = await runCli(["config", "check", "--config", file, "--env", "production"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.err,
    'warning: production.model_config.memory_patterns.0.pattern: ".*-70b.*" matches none of the 3 model(s) the servers report (Ollama writes names like "llama3.1:70b")',
  );
  assert.match(r.out, /\[production\]: OK/);
  const offline = await runCli(["config", "check", "--offline", "--config", file, "--env", "production"]);
  assert.deepEqual([offline.code, offline.err], [0, ""]);
});
