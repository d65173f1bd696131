import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// Model management changes what every user can run: pull, push, create, copy, delete and
// blob uploads need role admin. A user gets 403 (not 401: the token is fine) and the
// backend never hears of it.

const MANAGEMENT: { method: string; path: string; body?: string }[] = [
  { method: "POST", path: "/api/pull", body: '{"model":"qwen3","stream":false}' },
  { method: "POST", path: "/api/push", body: '{"model":"llama3","stream":false}' },
  { method: "POST", path: "/api/create", body: '{"model":"mine","from":"llama3","stream":false}' },
  { method: "POST", path: "/api/copy", body: '{"source":"llama3","destination":"mine"}' },
  { method: "DELETE", path: "/api/delete", body: '{"model":"llama3"}' },
  { method: "POST", path: "/api/blobs/sha256:0123456789abcdef", body: "GGUF bytes" },
  { method: "HEAD", path: "/api/blobs/sha256:0123456789abcdef" },
];

test("a user's token gets 403 on every management endpoint; nothing is forwarded", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const { method, path, body } of MANAGEMENT) {
    const res = await fetch(`${proxy.url}${path}`, {
      method,
      headers: proxy.auth,
      ...(body === undefined ? {} : { body }),
    });
    assert.equal(res.status, 403, `${method} ${path}`);
    if (method !== "HEAD") {
      assert.deepEqual(await res.json(), { error: `forbidden: ${path} needs an admin token` }, path);
    }
  }
  assert.deepEqual(backend.work(), []);

  // And so through the official client, which sends Ollama's "name" alias.
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });
  const forbidden = (err: unknown) =>
    (err as { name?: string }).name === "ResponseError" &&
    (err as { status_code?: number }).status_code === 403;
  await assert.rejects(ollama.pull({ model: "qwen3", stream: false }), forbidden);
  await assert.rejects(ollama.delete({ model: "llama3" }), forbidden);
  await assert.rejects(ollama.copy({ source: "llama3", destination: "mine" }), forbidden);
  await assert.rejects(ollama.push({ model: "llama3", stream: false }), forbidden);
  await assert.rejects(ollama.create({ model: "mine", from: "llama3", stream: false }), forbidden);
  assert.deepEqual(backend.work(), []);

  // Inference and show stay open to users.
  assert.equal((await ollama.show({ model: "llama3" })).details.family, "llama");
});

test("an admin's token passes on every management endpoint", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const admin = { authorization: `Bearer ${proxy.adminToken}` };

  for (const { method, path, body } of MANAGEMENT) {
    const res = await fetch(`${proxy.url}${path}`, {
      method,
      headers: admin,
      ...(body === undefined ? {} : { body }),
    });
    await res.arrayBuffer();
    assert.notEqual(res.status, 403, `${method} ${path}`);
    assert.notEqual(res.status, 401, `${method} ${path}`);
    assert.ok(
      backend.work().some((r) => r.method === method && r.path === path),
      `${method} ${path} reached the backend (status ${res.status})`,
    );
  }

  const ollama = new Ollama({ host: proxy.url, headers: admin });
  assert.equal((await ollama.pull({ model: "phi4", stream: false })).status, "success");
  assert.equal((await ollama.copy({ source: "phi4", destination: "phi4-copy" })).status, "success");
  assert.equal((await ollama.delete({ model: "phi4-copy" })).status, "success");
  assert.ok(backend.models.some((m) => m.name === "phi4:latest"));
  assert.ok(!backend.models.some((m) => m.name === "phi4-copy:latest"));
});
