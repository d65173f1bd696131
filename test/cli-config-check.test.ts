import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, runCli as run, tempDir } from "./helpers.js";

// `ollama-proxy config check` is what an operator runs before a restart: 0 on a good file,
// non-zero with every bad key path on a bad one.

test("a good file: exit 0 and a summary", async () => {
  const r = await run([
    "config",
    "check",
    "--config",
    join(ROOT, "config/ollama_proxy.yml"),
    "--env",
    "production",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /ollama_proxy\.yml \[production\]: OK — 2 enabled server\(s\), 1 external host\(s\), listening on 0\.0\.0\.0:11434/,
  );
  assert.equal(r.err, "");
});

test("the original's example: exit 0, the anthropic assignment as a warning", async () => {
  const r = await run([
    "config",
    "check",
    "--config",
    join(ROOT, "test/fixtures/original-config.yml"),
    "--env",
    "production",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\[production\]: OK/);
  assert.match(
    r.err,
    /^warning: production\.model_config\.explicit_assignments\.claude-3-sonnet: "anthropic"/,
  );
});

test("a bad file: non-zero, each bad key path on its own line", async (t) => {
  const file = join(tempDir(t), "bad.yml");
  writeFileSync(
    file,
    `production:
  proxy_port: "http"
  servers:
    legacy:
      host: "gpu2"
      port: 11436
      max_memory_gb: "eight"
      priority: first
    broken:
      port: 1
  logging:
    levle: debug
  model_config:
    memory_patterns:
      - pattern: "*-7b"
        memory_gb: 4.5
`,
  );
  const r = await run(["config", "check", "--config", file, "--env", "production"]);
  assert.equal(r.code, 78, "EX_CONFIG");
  assert.equal(r.out, "");
  const lines = r.err.split("\n").map((l) => l.trim());
  assert.equal(lines[0], `ollama-proxy: invalid configuration ${file}:`);
  for (const want of [
    "production.proxy_port: must be integer",
    "production.servers.legacy.max_memory_gb: must be number,null",
    "production.servers.legacy.priority: must be integer",
    "production.servers.broken.host: is required",
    "production.logging.levle: unknown key",
  ]) {
    assert.ok(lines.includes(want), `missing "${want}" in:\n${r.err}`);
  }
  assert.ok(
    lines.some((l) =>
      l.startsWith("production.model_config.memory_patterns.0.pattern: Invalid regular expression"),
    ),
  );
  assert.equal(lines.length, 7, r.err);
});

test("a file that is not there, or not YAML, or lacks the section: non-zero, said plainly", async (t) => {
  const dir = tempDir(t);
  const missing = await run(["config", "check", "--config", join(dir, "nope.yml")]);
  assert.equal(missing.code, 78);
  assert.match(missing.err, /nope\.yml: cannot read \(ENOENT\)/);

  const notYaml = join(dir, "bad.yml");
  writeFileSync(notYaml, "production:\n  servers: [unclosed\n");
  const parse = await run(["config", "check", "--config", notYaml, "--env", "production"]);
  assert.equal(parse.code, 78);
  assert.match(parse.err, /bad\.yml:\d+: /);

  const section = await run(["config", "check", "--config", notYaml.replace("bad", "none"), "--env", "x"]);
  assert.equal(section.code, 78);
});

test("no subcommand prints the help; an unknown option is a usage error", async () => {
  const none = await run(["config"]);
  assert.equal(none.code, 0);
  assert.match(none.out, /^ {2}ollama-proxy config check\s/m);
  const unknown = await run(["config", "check", "--confg", "x.yml"]);
  assert.equal(unknown.code, 64);
  assert.match(unknown.err, /Unknown argument/i);
});
