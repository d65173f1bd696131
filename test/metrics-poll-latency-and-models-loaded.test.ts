import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";
import { waitFor } from "./helpers.js";

// Per server: how long the health poller's round trip takes (what makes a server "slow"),
// and how many models it holds in memory — nothing for a server that is down.

test("poll latency and models loaded per server, and a down server loses both", async (t) => {
  const fast = await startFakeOllama({
    name: "fast",
    models: [
      { name: "llama3:latest", loaded: true },
      { name: "qwen2.5:7b", loaded: true },
      { name: "phi4:latest" },
    ],
  });
  const slow = await startFakeOllama({ name: "slow", models: [], behaviour: { versionDelayMs: 150 } });
  t.after(() => Promise.all([fast.close(), slow.close()]));
  const proxy = await startLoggedProxy(t, [fast, slow]);

  const fams = await scrape(proxy.url);
  assert.equal(fams.get("ollama_proxy_server_poll_latency_seconds")?.type, "gauge");
  const slowLatency = value(fams, "ollama_proxy_server_poll_latency_seconds", { server: "slow" });
  assert.ok(slowLatency !== undefined && slowLatency >= 0.15, `slow's latency ${slowLatency} s`);
  assert.ok((value(fams, "ollama_proxy_server_poll_latency_seconds", { server: "fast" }) ?? -1) >= 0);
  assert.equal(value(fams, "ollama_proxy_server_models_loaded", { server: "fast" }), 2);
  assert.equal(value(fams, "ollama_proxy_server_models_loaded", { server: "slow" }), 0);
  assert.equal(value(fams, "ollama_proxy_server_models", { server: "fast" }), 3);

  await fast.kill();
  await waitFor(
    "fast to be down",
    () => proxy.server.fleet.servers().find((s) => s.key === "fast")?.health === "down",
  );
  const down = await scrape(proxy.url);
  assert.equal(
    value(down, "ollama_proxy_server_models_loaded", { server: "fast" }),
    0,
    "a down server has nothing loaded",
  );
  assert.equal(value(down, "ollama_proxy_server_poll_latency_seconds", { server: "fast" }), undefined);
  assert.equal(value(down, "ollama_proxy_server_up", { server: "fast" }), 0);
});
