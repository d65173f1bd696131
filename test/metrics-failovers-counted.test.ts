import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";
import { post } from "./helpers.js";

// A failover is invisible to the client; /metrics is where the operator sees it happen.

test("a request that fails over is counted by the server it left and the one that took it", async (t) => {
  const main = await startFakeOllama({ name: "main", models: [{ name: "llama3:latest" }] });
  const spare = await startFakeOllama({ name: "spare", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([main.close(), spare.close()]));
  const proxy = await startLoggedProxy(t, [main, spare]);

  const before = await scrape(proxy.url);
  assert.equal(before.get("ollama_proxy_failovers_total")?.type, "counter");
  assert.equal(before.get("ollama_proxy_failovers_total")?.samples.length, 0, "no failover yet");

  // Stopped between two polls: the pollers still think it is up, the request finds out.
  await main.kill();
  const r = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    proxy.auth,
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get("x-ollama-proxy-server"), "spare");

  const after = await scrape(proxy.url);
  assert.equal(value(after, "ollama_proxy_failovers_total", { from: "main", to: "spare" }), 1);
  assert.equal(after.get("ollama_proxy_failovers_total")?.samples.length, 1);
});
