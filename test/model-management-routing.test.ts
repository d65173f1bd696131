import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Model management for admins: X-Ollama-Proxy-Server targets one server; otherwise pull goes
// to the best server for the model's memory need and delete/copy go to every server that has it.

const GB = 1_000_000_000;

test("pull goes to the best server for the model's size, or to the server the header names", async (t) => {
  const small = await startFakeOllama({ name: "small", models: [] });
  const large = await startFakeOllama({ name: "large", models: [] });
  t.after(() => Promise.all([small.close(), large.close()]));
  const p = await startProxy(t, [small, large], {
    extra: {
      servers: {
        small: { host: "127.0.0.1", port: small.port, priority: 1, max_memory_gb: 8 },
        large: { host: "127.0.0.1", port: large.port, priority: 2 },
      },
      model_config: { memory_patterns: [{ pattern: ":70b$", memory_gb: 40 }] },
    },
  });
  const admin = new Ollama({ host: p.url, headers: { authorization: `Bearer ${p.adminToken}` } });
  const done = await admin.pull({ model: "llama3:70b", stream: false });
  assert.equal(done.status, "success");
  assert.deepEqual(
    large.work().map((w) => w.path),
    ["/api/pull"],
  );
  assert.equal(small.work().length, 0);
  // The pulled model is listed without waiting for the tags cache to expire.
  await waitFor("the new model in /api/tags", async () =>
    (await admin.list()).models.some((m) => m.name === "llama3:70b"),
  );

  const targeted = new Ollama({
    host: p.url,
    headers: { authorization: `Bearer ${p.adminToken}`, "x-ollama-proxy-server": "small" },
  });
  for await (const part of await targeted.pull({ model: "phi4", stream: true })) assert.ok(part.status);
  assert.deepEqual(
    small.work().map((w) => w.path),
    ["/api/pull"],
  );
  assert.equal(
    small.work()[0]?.headers["x-ollama-proxy-server"],
    undefined,
    "our routing header is not forwarded",
  );

  const unknown = await post(
    `${p.url}/api/pull`,
    { model: "x" },
    { authorization: `Bearer ${p.adminToken}`, "x-ollama-proxy-server": "nope" },
  );
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, { error: 'X-Ollama-Proxy-Server: no enabled server named "nope"' });
});

test("delete and copy go to every server that has the model", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest", size: 4 * GB }] });
  const b = await startFakeOllama({
    name: "b",
    models: [{ name: "llama3:latest", size: 4 * GB }, { name: "phi4:latest" }],
  });
  const c = await startFakeOllama({ name: "c", models: [{ name: "phi4:latest" }] });
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const p = await startProxy(t, [a, b, c]);
  const admin = new Ollama({ host: p.url, headers: { authorization: `Bearer ${p.adminToken}` } });

  const copied = await admin.copy({ source: "llama3", destination: "llama3-backup" });
  assert.equal(copied.status, "success");
  assert.deepEqual(
    [a, b, c].map((f) => f.work().map((w) => w.path)),
    [["/api/copy"], ["/api/copy"], []],
  );

  const deleted = await admin.delete({ model: "llama3" });
  assert.equal(deleted.status, "success");
  assert.equal(
    a.models.some((m) => m.name === "llama3:latest"),
    false,
  );
  assert.equal(
    b.models.some((m) => m.name === "llama3:latest"),
    false,
  );
  assert.equal(c.work().length, 0);
  await waitFor(
    "llama3 gone from /api/tags",
    async () => !(await admin.list()).models.some((m) => m.name === "llama3:latest"),
  );

  // Nobody has it: Ollama's own 404 reaches the admin.
  await assert.rejects(admin.delete({ model: "ghost" }), /not found/);
});

test("an admin's blob upload and create land on the same server", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [] });
  const b = await startFakeOllama({ name: "b", models: [] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b]);
  const auth = { authorization: `Bearer ${p.adminToken}` };
  const digest = `sha256:${"ab".repeat(32)}`;
  const head = await fetch(`${p.url}/api/blobs/${digest}`, { method: "HEAD", headers: auth });
  assert.equal(head.status, 404);
  const up = await fetch(`${p.url}/api/blobs/${digest}`, {
    method: "POST",
    headers: auth,
    body: Buffer.alloc(3000, 7),
  });
  assert.equal(up.status, 201);
  const created = await post(
    `${p.url}/api/create`,
    { model: "mine", files: { "x.gguf": digest }, stream: false },
    auth,
  );
  assert.equal(created.status, 200);
  assert.deepEqual(
    a.work().map((w) => `${w.method} ${w.path}`),
    [`HEAD /api/blobs/${digest}`, `POST /api/blobs/${digest}`, "POST /api/create"],
  );
  assert.equal(a.work()[1]?.body.length, 3000);
  assert.equal(b.work().length, 0);
});

test("a fan-out body is read whole within max_body_mb, and refused with 413 past it", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b], { extra: { limits: { max_body_mb: 2 } } });
  const auth = { authorization: `Bearer ${p.adminToken}` };
  const copy = (padding: number) =>
    post(
      `${p.url}/api/copy`,
      { source: "llama3", destination: "llama3-copy", note: "x".repeat(padding) },
      auth,
    );

  // Over 1 MB the peek stage stops keeping the body; the fan-out reads the rest itself.
  const large = await copy(1_500_000);
  assert.equal(large.status, 200, large.text);
  assert.deepEqual(
    [a, b].map((f) => f.work().map((w) => w.body.length)),
    [[1_500_057], [1_500_057]],
  );

  const over = await copy(2_500_000);
  assert.equal(over.status, 413);
  assert.deepEqual(over.body, { error: "request body is larger than 2 MB" });
  assert.equal(a.work().length + b.work().length, 2, "nothing more reached a server");
});
