import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// A model only on a down server is refused for use (503), but an admin's pull is how it gets
// onto a live server: the pull goes to the servers it fits on, as for a model nobody has.

test("an admin's pull of a model that is only on a down server goes to a live server", async (t) => {
  const big = await startFakeOllama({ name: "big", models: [] });
  const mid = await startFakeOllama({ name: "mid", models: [{ name: "qwen2.5:14b" }] });
  t.after(() => Promise.all([big.close(), mid.close()]));
  const p = await startProxy(t, [big, mid]);
  await mid.kill();
  await waitFor(
    "mid marked down",
    () => p.server.fleet.servers().find((s) => s.key === "mid")?.health === "down",
  );
  const admin = { authorization: `Bearer ${p.adminToken}` };

  const refused = await post(`${p.url}/api/show`, { model: "qwen2.5:14b" }, admin);
  assert.equal(refused.status, 503);
  assert.deepEqual(refused.body, { error: "qwen2.5:14b is on mid, which is down" });

  const pulled = await post(`${p.url}/api/pull`, { model: "qwen2.5:14b", stream: false }, admin);
  assert.equal(pulled.status, 200, pulled.text);
  assert.equal(pulled.headers.get("x-ollama-proxy-server"), "big");
  await waitFor("big to list the pulled model", async () => {
    const r = await post(
      `${p.url}/api/generate`,
      { model: "qwen2.5:14b", prompt: "x", stream: false },
      p.auth,
    );
    return r.status === 200 && r.headers.get("x-ollama-proxy-server") === "big";
  });
});
