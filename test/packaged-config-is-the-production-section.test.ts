import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { ROOT } from "./helpers.js";

// The .deb installs packaging/config.yml as /etc/ollama-proxy/config.yml: the repository's
// production section with an operator's comments. It must stay valid (the unit's
// ExecStartPre runs `config check` on it) and say exactly what that section says.

test("the packaged config loads to the same production config as config/ollama_proxy.yml", () => {
  const environ = { OPENAI_API_KEY: "unused" };
  const packaged = loadConfig({ file: join(ROOT, "packaging/config.yml"), env: "production", environ });
  const repo = loadConfig({ file: join(ROOT, "config/ollama_proxy.yml"), env: "production", environ });
  assert.deepEqual(packaged.warnings, repo.warnings);
  assert.deepEqual({ ...packaged.config, file: "" }, { ...repo.config, file: "" });
  assert.equal(packaged.config.database, "/var/lib/ollama-proxy/ollama-proxy.sqlite3");
  assert.equal(packaged.config.logging.dir, "/var/log/ollama-proxy");
});
