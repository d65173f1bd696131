import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Issue 17: a model whose only servers cannot take it (max_memory_gb below its size) is a 503
// that says so — not a trip to a server without it and Ollama's "try pulling it first" — and
// is not offered in the listings.

test("a model only on a server too small for it answers 503 naming the size and the limit", async (t) => {
  const first = await startFakeOllama({
    name: "first",
    models: [{ name: "llama3:latest", size: 4_700_000_000 }],
  });
  const second = await startFakeOllama({
    name: "second",
    models: [{ name: "mistral:7b", size: 4_100_000_000 }],
  });
  t.after(() => Promise.all([first.close(), second.close()]));
  const p = await startProxy(t, [first, second], {
    extra: {
      servers: {
        first: { host: "127.0.0.1", port: first.port, priority: 1 },
        second: { host: "127.0.0.1", port: second.port, priority: 2, max_memory_gb: 4 },
      },
    },
  });

  const r = await post(`${p.url}/api/generate`, { model: "mistral:7b", prompt: "x" }, p.auth);
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("retry-after"), "5");
  assert.deepEqual(r.body, { error: "mistral:7b (4.1 GB) is only on second, whose max_memory_gb is 4" });
  assert.deepEqual(first.work(), []);
  assert.deepEqual(second.work(), []);

  const tags = await fetch(`${p.url}/api/tags`, { headers: p.auth });
  const names = ((await tags.json()) as { models: { name: string }[] }).models.map((m) => m.name);
  assert.deepEqual(names, ["llama3:latest"]);
});
