import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Ollama's account and cloud features (/api/me, /api/signout, /api/experimental/*, models
// named *:cloud or *-cloud) would act with the Ollama server's own ollama.com identity:
// refused with 403 unless the config says allow_cloud: true.

test("account and cloud endpoints and cloud models are refused by default", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu",
    models: [{ name: "gpt-oss:120b-cloud" }, { name: "llama3:latest" }],
  });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend]);
  const admin = { authorization: `Bearer ${p.adminToken}` };
  for (const [method, path, headers] of [
    ["POST", "/api/me", admin],
    ["POST", "/api/signout", admin],
    ["POST", "/api/experimental/web_search", p.auth],
  ] as const) {
    const res = await fetch(`${p.url}${path}`, { method, headers });
    assert.equal(res.status, 403, path);
    assert.match(((await res.json()) as { error: string }).error, /allow_cloud: false/);
  }
  for (const model of ["gpt-oss:120b-cloud", "deepseek-v3.1:cloud", "kimi-k2-cloud"]) {
    const r = await post(`${p.url}/api/chat`, { model, messages: [] }, p.auth);
    assert.equal(r.status, 403, model);
  }
  const v1 = await post(
    `${p.url}/v1/chat/completions`,
    { model: "gpt-oss:120b-cloud", messages: [] },
    p.auth,
  );
  assert.equal(v1.status, 403);
  assert.equal((v1.body as { error: { code: string } }).error.code, "forbidden");
  assert.equal(backend.work().length, 0, "nothing reached the backend");
  // Without a token, still 401 first.
  assert.equal((await fetch(`${p.url}/api/me`, { method: "POST" })).status, 401);
});

test("allow_cloud: true lets them through", async (t) => {
  const backend = await startFakeOllama({ name: "gpu", models: [{ name: "gpt-oss:120b-cloud" }] });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], { extra: { allow_cloud: true } });
  const r = await post(
    `${p.url}/api/chat`,
    { model: "gpt-oss:120b-cloud", messages: [], stream: false },
    p.auth,
  );
  assert.equal(r.status, 200);
  const me = await fetch(`${p.url}/api/me`, {
    method: "POST",
    headers: { authorization: `Bearer ${p.adminToken}` },
  });
  assert.equal(me.status, 404, "forwarded: the fake Ollama has no /api/me");
  assert.deepEqual(
    backend.work().map((w) => w.path),
    ["/api/chat", "/api/me"],
  );
});
