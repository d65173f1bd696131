import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Every backend down: 503 with Retry-After, at once — no hang, no connection attempt.

test("with every backend down, requests get 503 with Retry-After immediately", async (t) => {
  const a = await startFakeOllama({ name: "a" });
  const b = await startFakeOllama({ name: "b" });
  const p = await startProxy(t, [a, b]);
  await a.kill();
  await b.kill();
  await waitFor("both down", () => p.server.fleet.servers().every((s) => s.health === "down"));
  for (const [path, body] of [
    ["/api/generate", { model: "llama3", prompt: "x" }],
    ["/v1/chat/completions", { model: "llama3", messages: [] }],
  ] as const) {
    const started = Date.now();
    const r = await post(`${p.url}${path}`, body, p.auth);
    assert.ok(Date.now() - started < 500, "answered at once");
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "5");
    const message = path.startsWith("/v1")
      ? (r.body as { error: { message: string } }).error.message
      : (r.body as { error: string }).error;
    assert.equal(message, "no Ollama server is available");
  }
});
