import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { section, tempDir, waitFor, writeConfig } from "./helpers.js";

// A key that cannot change in a running process (the port it listens on) is not silently
// ignored: the reload names it in the app log, in /health and in the foreground output,
// and the proxy goes on listening where it was.

test("a reload that changes proxy_port names it as needing a restart, everywhere the operator looks", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const base = section([backend], { proxy_port: 11434, logging: { level: "info", dir: null } });
  const { file, config } = writeConfig(dir, base);
  const proxy = await spawnProxy(t, file);

  const before = (await (await fetch(`${proxy.url}/health`)).json()) as {
    config: { file: string; env: string; loaded_at: string; last_reload: unknown; needs_restart: string[] };
  };
  assert.equal(before.config.file, file);
  assert.equal(before.config.env, "test");
  assert.equal(before.config.last_reload, null, "not reloaded yet");
  assert.deepEqual(before.config.needs_restart, []);

  writeFileSync(
    file,
    stringify({ test: { database: config.database, ...base, proxy_port: 11500, cache_ttl_seconds: 60 } }),
  );
  proxy.child.kill("SIGHUP");
  await waitFor("the reload in the foreground output", () => proxy.stderr().includes("needs a restart"));
  // The app log is written asynchronously (pino): its lines may follow the foreground's.
  await waitFor("the reload's warning in the app log", () =>
    proxy.stdout().includes("config changed that needs a restart"),
  );
  assert.match(proxy.stderr(), /config reloaded from .*: applied cache_ttl_seconds\n/);
  assert.match(proxy.stderr(), /needs a restart to apply: proxy_port \(11434 at start, 11500 in the file\)/);

  const logged = proxy
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const reloaded = logged.find((l) => l.msg === "config reloaded");
  assert.deepEqual(reloaded?.applied, ["cache_ttl_seconds"]);
  assert.deepEqual(reloaded?.needsRestart, ["proxy_port"]);
  const warning = logged.find((l) => String(l.msg).startsWith("config changed that needs a restart"));
  assert.equal(warning?.level, 40);
  assert.match(String(warning?.msg), /proxy_port \(11434 at start, 11500 in the file\)/);

  const res = await fetch(`${proxy.url}/health`);
  assert.equal(res.status, 200, "still listening where it started, and healthy");
  const health = (await res.json()) as {
    status: string;
    config: { loaded_at: string; last_reload: { ok: boolean; applied: string[] }; needs_restart: string[] };
  };
  assert.equal(health.status, "ok", "a pending restart does not page anyone");
  assert.deepEqual(health.config.needs_restart, ["proxy_port"]);
  assert.equal(health.config.last_reload.ok, true);
  assert.deepEqual(health.config.last_reload.applied, ["cache_ttl_seconds"]);
  assert.ok(health.config.loaded_at > before.config.loaded_at);

  // Put back, it no longer waits for a restart.
  writeFileSync(file, stringify({ test: { database: config.database, ...base } }));
  proxy.child.kill("SIGHUP");
  await waitFor("the second reload", async () => {
    const h = (await (await fetch(`${proxy.url}/health`)).json()) as { config: { needs_restart: string[] } };
    return h.config.needs_restart.length === 0;
  });
  assert.equal(await proxy.stop(), 0);
});
