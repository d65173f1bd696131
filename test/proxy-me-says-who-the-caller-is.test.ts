import assert from "node:assert/strict";
import test from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

test("GET /proxy/me names the caller, its role and the models it may use", async (t) => {
  const fake = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }, { name: "qwen2.5:7b" }],
  });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);

  const user = await fetch(`${proxy.url}/proxy/me`, { headers: proxy.auth });
  assert.equal(user.status, 200);
  assert.equal(user.headers.get("x-content-type-options"), "nosniff");
  assert.deepEqual(await user.json(), {
    name: "alice",
    role: "user",
    policy: null,
    expires_at: null,
    models: ["llama3:latest", "qwen2.5:7b"],
  });

  const admin = await fetch(`${proxy.url}/proxy/me`, {
    headers: { authorization: `Bearer ${proxy.adminToken}` },
  });
  assert.equal(((await admin.json()) as { role: string }).role, "admin");
});

test("GET /proxy/me without a valid token is a 401 the client can read", async (t) => {
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const res = await fetch(`${proxy.url}/proxy/me`, { headers: { authorization: "Bearer olp_nope" } });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="ollama-proxy"');
  assert.match(((await res.json()) as { error: string }).error, /valid API token/);
  const post = await fetch(`${proxy.url}/proxy/me`, { method: "POST", headers: proxy.auth });
  assert.equal(post.status, 405);
});
