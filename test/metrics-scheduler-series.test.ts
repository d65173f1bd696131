import assert from "node:assert/strict";
import { test } from "node:test";
import { startGpuOllama } from "./fixtures/gpu-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";
import { post, waitFor } from "./helpers.js";

// The scheduler in /metrics: what waits now, how long requests waited, the model loads it
// caused, and what it refused.

test("queue gauges, the wait histogram, model loads and queue refusals", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3", "qwen2.5"],
    loaded: ["llama3"],
    limits: { numParallel: 1, maxLoadedModels: 1, loadMs: 50, serviceMs: 300, maxQueue: 512 },
  });
  t.after(() => gpu.close());
  const p = await startLoggedProxy(t, [gpu], {
    extra: {
      servers: { gpu: { host: "127.0.0.1", port: gpu.port, parallel: 1 } },
      scheduler: { max_queue: 1 },
    },
  });
  const generate = (model: string) =>
    post(`${p.url}/api/generate`, { model, prompt: "x", stream: false }, p.auth);

  const first = generate("llama3");
  await waitFor("the first request to run", () => gpu.stats().running === 1);
  const second = generate("llama3");
  await waitFor(
    "the second request to wait",
    async () => value(await scrape(p.url), "ollama_proxy_queue_waiting") === 1,
  );
  const third = await generate("llama3");
  assert.equal(third.status, 503, "max_queue is 1");
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  assert.equal((await generate("qwen2.5")).status, 200);

  const fams = await scrape(p.url);
  assert.equal(value(fams, "ollama_proxy_queue_waiting"), 0);
  assert.equal(fams.get("ollama_proxy_queue_wait_seconds")?.type, "histogram");
  const waited = { server: "gpu", model: "llama3:latest" };
  assert.equal(value(fams, "ollama_proxy_queue_wait_seconds_count", waited), 2);
  assert.ok(value(fams, "ollama_proxy_queue_wait_seconds_sum", waited)! > 0.1, "the second waited its turn");
  const loaded = { server: "gpu", model: "qwen2.5:latest" };
  assert.equal(value(fams, "ollama_proxy_queue_wait_seconds_count", loaded), 1);
  assert.equal(value(fams, "ollama_proxy_model_loads_total", { server: "gpu" }), 1, "qwen2.5 made it load");
  assert.equal(value(fams, "ollama_proxy_queue_refusals_total", { reason: "queue_full" }), 1);
});
