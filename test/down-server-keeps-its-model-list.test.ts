import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// A live server's model list is forgotten when it cannot be refreshed for twice
// cache_ttl_seconds; a down server's is kept until it answers again: no request goes to it,
// and the list is what lets the proxy say "on mid, which is down" rather than guess.

test("a down server's last-known models still name it long after cache_ttl_seconds", async (t) => {
  const big = await startFakeOllama({ name: "big", models: [{ name: "llama3:latest" }] });
  const mid = await startFakeOllama({ name: "mid", models: [{ name: "qwen2.5:14b" }] });
  t.after(() => Promise.all([big.close(), mid.close()]));
  const p = await startProxy(t, [big, mid], { extra: { cache_ttl_seconds: 0.1 } });
  const state = () => p.server.fleet.servers().find((s) => s.key === "mid")!;
  await mid.kill();
  await waitFor("mid marked down", () => state().health === "down");
  // Polls keep failing well past twice the trust period.
  await waitFor("two trust periods of failed polls", () => state().lastPollAt - state().modelsAt > 3 * 100);
  assert.equal(state().models.has("qwen2.5:14b"), true);
  const r = await post(`${p.url}/api/generate`, { model: "qwen2.5:14b", prompt: "x" }, p.auth);
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { error: "qwen2.5:14b is on mid, which is down" });
  assert.deepEqual(big.work(), []);
});
