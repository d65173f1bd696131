import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { scrape, value } from "./fixtures/prometheus.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { section, tempDir, waitFor, writeConfig } from "./helpers.js";

// A reload that fails keeps the running config; /health says it failed and why, and
// /metrics' reload gauge drops to 0 — what an alert fires on — until a good file is loaded.

interface Health {
  status: string;
  config: {
    loaded_at: string;
    last_reload:
      | null
      | { at: string; ok: true; applied: string[] }
      | { at: string; ok: false; error: string };
  };
}

test("a failed reload is in /health with its error and in the reload gauge; a good one clears both", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const { file } = writeConfig(dir, section([backend], { logging: { level: "info", dir: null } }));
  const good = readFileSync(file, "utf8");
  const proxy = await spawnProxy(t, file);
  const health = async () => (await (await fetch(`${proxy.url}/health`)).json()) as Health;

  const start = await scrape(proxy.url);
  assert.equal(start.get("ollama_proxy_config_last_reload_successful")?.type, "gauge");
  assert.equal(value(start, "ollama_proxy_config_last_reload_successful"), 1, "the start-up load counts");
  const loadedAt = value(start, "ollama_proxy_config_last_reload_success_timestamp_seconds")!;
  assert.ok(Math.abs(loadedAt - Date.now() / 1000) < 120, `timestamp ${loadedAt} is in Unix seconds`);

  writeFileSync(file, good.replace(/proxy_port: \d+/, 'proxy_port: "many"'));
  proxy.child.kill("SIGHUP");
  await waitFor("the failed reload in /health", async () => (await health()).config.last_reload !== null);
  const failed = await health();
  assert.equal(failed.status, "ok", "the running config is whole");
  assert.equal(failed.config.last_reload?.ok, false);
  assert.match((failed.config.last_reload as { error: string }).error, /test\.proxy_port: must be integer/);
  assert.match(
    proxy.stderr(),
    /config reload of .*ollama_proxy\.yml failed; the running config stays:\n {2}test\.proxy_port: must be integer/,
  );

  const after = await scrape(proxy.url);
  assert.equal(value(after, "ollama_proxy_config_last_reload_successful"), 0);
  assert.equal(
    value(after, "ollama_proxy_config_last_reload_success_timestamp_seconds"),
    loadedAt,
    "the last success is still the start",
  );

  writeFileSync(file, good);
  proxy.child.kill("SIGHUP");
  await waitFor("the good reload in /health", async () => (await health()).config.last_reload?.ok === true);
  const fixed = await scrape(proxy.url);
  assert.equal(value(fixed, "ollama_proxy_config_last_reload_successful"), 1);
  assert.ok(value(fixed, "ollama_proxy_config_last_reload_success_timestamp_seconds")! > loadedAt);
  assert.equal(await proxy.stop(), 0);
});
