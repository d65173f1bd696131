import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { section, startProxy } from "./helpers.js";

// GET /api/status is Ollama's "is the cloud off here?" (api.StatusResponse: cloud.disabled and
// where that was decided). Through the proxy the answer is the proxy's own rule — cloud models
// and endpoints are refused unless allow_cloud — never one backend's, and it follows a reload.

test("/api/status answers from allow_cloud, for a caller with a token, and follows a reload", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const status = async () => {
    const res = await fetch(`${p.url}/api/status`, { headers: p.auth });
    assert.equal(res.status, 200);
    return res.json();
  };
  assert.deepEqual(await status(), { cloud: { disabled: true, source: "config" } });

  writeFileSync(
    p.file,
    stringify({ test: { database: p.config.database, ...section([gpu], { allow_cloud: true }) } }),
  );
  p.server.reload(loadConfig({ file: p.file, env: "test" }).config);
  assert.deepEqual(await status(), { cloud: { disabled: false, source: "none" } });

  assert.equal((await fetch(`${p.url}/api/status`)).status, 401, "a token is needed, as for the listings");
  const post = await fetch(`${p.url}/api/status`, { method: "POST", headers: p.auth });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET");
  assert.deepEqual(
    gpu.received.filter((r) => r.path === "/api/status"),
    [],
    "no backend is asked",
  );
});
