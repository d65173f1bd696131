import assert from "node:assert/strict";
import { test } from "node:test";
import { nextCandidate } from "../lib/routing/table.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// routing-rules.test.ts tests the rules on the table itself; this shows that the proxy answers
// as its table says: the server it names is the one that serves, its refusal is the answer.

const GB = 1_000_000_000;

test("the proxy serves each model where its routing table sends it, and refuses as the table refuses", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest", size: 4 * GB }] });
  const b = await startFakeOllama({
    name: "b",
    models: [
      { name: "llama3:latest", size: 4 * GB },
      { name: "phi4:latest", size: 9 * GB },
    ],
  });
  const c = await startFakeOllama({ name: "c", models: [{ name: "mistral:7b", size: 4.1 * GB }] });
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const p = await startProxy(t, [a, b, c], {
    extra: {
      servers: {
        a: { host: "127.0.0.1", port: a.port, priority: 2 },
        b: { host: "127.0.0.1", port: b.port, priority: 1 },
        c: { host: "127.0.0.1", port: c.port, priority: 1, max_memory_gb: 4 },
      },
    },
  });

  const expected = new Map<string, string>();
  for (const model of ["llama3", "phi4", "never-heard-of-it", "mistral:7b"]) {
    const route = p.server.fleet.table().route(model);
    const r = await post(`${p.url}/api/generate`, { model, prompt: "x", stream: false }, p.auth);
    if (route.kind === "ollama") {
      const first = nextCandidate(route.tiers, null)!.key;
      expected.set(model, first);
      assert.equal(r.headers.get("x-ollama-proxy-server"), first, model);
      // A model nobody has goes where it fits, and that server's Ollama answers for itself.
      assert.equal(r.status, route.haveModel ? 200 : 404, `${model}: ${r.text}`);
    } else {
      assert.equal(route.kind, "unavailable", model);
      if (route.kind !== "unavailable") continue;
      expected.set(model, "refused");
      assert.equal(r.status, route.error.status);
      assert.equal(r.headers.get("retry-after"), route.error.headers?.["retry-after"]);
      assert.deepEqual(r.body, { error: route.error.message });
    }
  }
  // What the table said, for the reader: priority, fallback by memory, too small to run.
  assert.deepEqual(Object.fromEntries(expected), {
    llama3: "b",
    phi4: "b",
    "never-heard-of-it": "b",
    "mistral:7b": "refused",
  });
  assert.equal(c.work().length, 0, "a refused request reaches no server");
});
