import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The request path only looks the model up and reads in-flight counters (issue 3): selecting a
// route must not start any asynchronous operation — no socket, no timer, no file, no promise.

test("selecting a route creates no asynchronous resource at all", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest", loaded: true }] });
  const b = await startFakeOllama({
    name: "b",
    models: [{ name: "llama3:latest" }, { name: "phi4:latest" }],
  });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b], {
    extra: { model_config: { memory_patterns: [{ pattern: "-7b", memory_gb: 4 }] } },
  });
  const { nextCandidate } = await import("../lib/routing/table.js");

  const created: string[] = [];
  const hook = createHook({ init: (_id, type) => created.push(type) });
  hook.enable();
  const picks: string[] = [];
  try {
    for (const model of ["llama3", "phi4", "mistral-7b", "never-heard-of-it", "llama3"]) {
      const route = p.server.fleet.table().route(model);
      assert.equal(route.kind, "ollama");
      if (route.kind === "ollama") picks.push(nextCandidate(route.tiers, null)?.key ?? "none");
    }
  } finally {
    hook.disable();
  }
  assert.deepEqual(created, []);
  assert.deepEqual(picks, ["a", "b", "a", "a", "a"]);
});
