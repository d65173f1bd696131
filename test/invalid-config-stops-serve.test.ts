import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { tempDir } from "./helpers.js";

// `serve` with an invalid config exits non-zero before opening anything, naming every bad key.

test("serve refuses an invalid config with every bad key path", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "bad.yml");
  writeFileSync(
    file,
    [
      "production:",
      "  proxy_port: http",
      "  servers:",
      "    legacy:",
      "      host: localhost",
      '      port: "eleven"',
      "      prot: http",
      "    nohost:",
      "      port: 1",
      "  model_config:",
      "    memory_patterns:",
      '      - pattern: "(("',
      "        memory_gb: 4",
      `  database: ${join(dir, "x.sqlite3")}`,
      "",
    ].join("\n"),
  );
  const err: string[] = [];
  const code = await main(["serve", "--config", file, "--env", "production"], {
    out: () => {},
    err: (s) => err.push(s),
  });
  assert.equal(code, 78);
  const text = err.join("\n");
  for (const path of [
    "production.proxy_port: must be integer",
    "production.servers.legacy.port: must be integer",
    "production.servers.legacy.prot: unknown key",
    "production.servers.nohost.host: is required",
    "production.model_config.memory_patterns.0.pattern: Invalid regular expression",
  ]) {
    assert.ok(text.includes(path), `missing "${path}" in:\n${text}`);
  }
});
