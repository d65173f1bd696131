import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Peek keeps only the first megabyte of a body and lets the rest stream to the server once
// the model is known. A second key naming the model further on (Ollama would serve the last
// one) is still caught as the body passes: the client gets 400 and the server never receives
// the body whole, so it never acts on it.

test("a second model key after 1 MB: 400, and the server never gets a complete request", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu",
    models: [{ name: "llama3:latest" }, { name: "llama3.1:70b" }],
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const filler = "x".repeat(2 * 1024 * 1024);
  const r = await post(
    `${p.url}/api/generate`,
    `{"model":"llama3","prompt":"${filler}","stream":false,"MODEL":"llama3.1:70b"}`,
    p.auth,
  );
  assert.equal(r.status, 400);
  assert.match((r.body as { error: string }).error, /more than one "model" key/);
  await waitFor("the half-sent upstream request to end", () => gpu.inProgress() === 0);
  assert.deepEqual(gpu.work(), [], "no complete request reached the server");

  // The same body with one model key streams through whole.
  const ok = await post(
    `${p.url}/api/generate`,
    `{"model":"llama3","prompt":"${filler}","stream":false}`,
    p.auth,
  );
  assert.equal(ok.status, 200);
  assert.equal(gpu.work()[0]!.raw.length, filler.length + 45);
});
