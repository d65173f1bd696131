import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Keys for other APIs (Anthropic's SDKs send x-api-key) never reach an Ollama backend, and
// what a backend is told about the client — its address, scheme and host — comes from what
// the proxy knows, never from the client's own claims.

test("x-api-key and api-key are dropped; X-Real-IP, X-Forwarded-* and Forwarded are the proxy's", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const r = await post(
    `${p.url}/api/generate`,
    { model: "llama3", prompt: "hi", stream: false },
    {
      ...p.auth,
      "x-api-key": "sk-ant-secret",
      "api-key": "azure-secret",
      "x-real-ip": "6.6.6.6",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "evil.example",
      "x-forwarded-port": "443",
      forwarded: "for=6.6.6.6;proto=https",
    },
  );
  assert.equal(r.status, 200);
  const h = gpu.work()[0]!.headers;
  assert.equal(h["x-api-key"], undefined);
  assert.equal(h["api-key"], undefined);
  assert.equal(h.forwarded, undefined);
  assert.equal(h["x-forwarded-port"], undefined);
  assert.equal(h["x-real-ip"], "127.0.0.1");
  assert.equal(h["x-forwarded-for"], "127.0.0.1");
  assert.equal(h["x-forwarded-proto"], "http");
  assert.equal(h["x-forwarded-host"], new URL(p.url).host);
});
