import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post } from "./helpers.js";

// logging.request_log: false — no writer thread, no rows, nothing about it in /health; the
// usage tap and metrics still work.

test("with logging.request_log off, requests leave no row and metrics still count them", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], {
    extra: { logging: { level: "silent", dir: null, request_log: false } },
  });
  assert.equal(proxy.telemetry.requestLog, null);
  const r = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    proxy.auth,
  );
  assert.equal(r.status, 200);
  const health = (await (await fetch(`${proxy.url}/health`)).json()) as {
    status: string;
    components: unknown[];
  };
  assert.equal(health.status, "ok");
  assert.deepEqual(health.components, []);
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, /^ollama_proxy_completion_tokens_total\{server="gpu1",model="llama3:latest"\} 3$/m);
  assert.match(metrics, /^ollama_proxy_request_log_dropped_total 0$/m);
  await proxy.close();
  assert.equal(proxy.rows().length, 0);
});
