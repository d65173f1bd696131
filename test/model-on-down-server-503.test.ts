import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Issue 17: a model that exists is never "not found, try pulling it". When the only server
// that has it is down, the client hears that, with a time to come back; the servers without
// the model are not asked, and the listings do not offer it.

test("a model only on a down server answers 503 with Retry-After naming the server, and is not listed", async (t) => {
  const big = await startFakeOllama({ name: "big", models: [{ name: "llama3:latest" }] });
  const mid = await startFakeOllama({ name: "mid", models: [{ name: "qwen2.5:14b", size: 9_000_000_000 }] });
  t.after(() => Promise.all([big.close(), mid.close()]));
  const p = await startProxy(t, [big, mid]);
  const listed = async () => {
    const res = await fetch(`${p.url}/api/tags`, { headers: p.auth });
    return ((await res.json()) as { models: { name: string }[] }).models.map((m) => m.name).sort();
  };
  assert.deepEqual(await listed(), ["llama3:latest", "qwen2.5:14b"]);

  await mid.kill();
  await waitFor(
    "mid marked down",
    () => p.server.fleet.servers().find((s) => s.key === "mid")?.health === "down",
  );

  const ollama = await post(`${p.url}/api/chat`, { model: "qwen2.5:14b", messages: [] }, p.auth);
  assert.equal(ollama.status, 503);
  assert.equal(ollama.headers.get("retry-after"), "5");
  assert.deepEqual(ollama.body, { error: "qwen2.5:14b is on mid, which is down" });

  const openai = await post(
    `${p.url}/v1/chat/completions`,
    { model: "qwen2.5:14b", messages: [{ role: "user", content: "hi" }] },
    p.auth,
  );
  assert.equal(openai.status, 503);
  assert.equal(openai.headers.get("retry-after"), "5");
  assert.equal(
    (openai.body as { error: { message: string } }).error.message,
    "qwen2.5:14b is on mid, which is down",
  );

  assert.deepEqual(big.work(), [], "the server without the model is not asked");
  assert.deepEqual(await listed(), ["llama3:latest"]);
  const models = await fetch(`${p.url}/v1/models`, { headers: p.auth });
  assert.deepEqual(
    ((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id),
    ["llama3:latest"],
  );
  const info = await fetch(`${p.url}/v1/models/qwen2.5:14b`, { headers: p.auth });
  assert.equal(info.status, 404);

  // Back up: served again, listed again.
  await mid.revive();
  await waitFor("mid back up", () => p.server.fleet.servers().find((s) => s.key === "mid")?.health === "up");
  const served = await post(
    `${p.url}/api/chat`,
    { model: "qwen2.5:14b", messages: [], stream: false },
    p.auth,
  );
  assert.equal(served.status, 200, served.text);
  assert.equal(served.headers.get("x-ollama-proxy-server"), "mid");
  assert.deepEqual(await listed(), ["llama3:latest", "qwen2.5:14b"]);
});
