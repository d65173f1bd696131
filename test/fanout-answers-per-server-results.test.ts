import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A copy or delete without X-Ollama-Proxy-Server goes to every server that has the model and
// answers every server's result — not one server's empty 200 — in a body the official
// ollama client still reads: it resolves on success and raises the `error` string otherwise.

test("a fan-out delete answers each server's result; the ollama client resolves", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  const c = await startFakeOllama({ name: "c", models: [{ name: "phi4:latest" }] });
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const p = await startProxy(t, [a, b, c]);
  const auth = { authorization: `Bearer ${p.adminToken}`, "content-type": "application/json" };

  const res = await fetch(`${p.url}/api/delete`, {
    method: "DELETE",
    headers: auth,
    body: JSON.stringify({ model: "llama3" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("x-ollama-proxy-server"), "a,b");
  assert.deepEqual(await res.json(), {
    status: "success",
    servers: [
      { server: "a", ok: true, status: 200 },
      { server: "b", ok: true, status: 200 },
    ],
  });

  const admin = new Ollama({ host: p.url, headers: { authorization: `Bearer ${p.adminToken}` } });
  assert.deepEqual(await admin.copy({ source: "phi4", destination: "phi4-copy" }), { status: "success" });
  assert.ok(c.models.some((m) => m.name === "phi4-copy:latest"));
});

test("a fan-out that fails on some servers answers 502 naming them, which the ollama client raises", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  const gone = await startFakeOllama({ name: "gone", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close(), gone.close()]));
  const p = await startProxy(t, [a, b, gone]);
  // b lost the model behind the proxy's back (its list is cached); gone stops answering.
  b.models = [];
  await gone.kill();

  const res = await fetch(`${p.url}/api/delete`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${p.adminToken}` },
    body: JSON.stringify({ model: "llama3" }),
  });
  assert.equal(res.status, 502);
  const body = (await res.json()) as { error: string; servers: unknown[] };
  assert.match(
    body.error,
    /^done on a; failed on b: model 'llama3' not found; gone: gone is unreachable \(ECONNREFUSED\)$/,
  );
  assert.deepEqual(body.servers.slice(0, 2), [
    { server: "a", ok: true, status: 200 },
    { server: "b", ok: false, status: 404, error: "model 'llama3' not found" },
  ]);
  assert.deepEqual(
    { ...(body.servers[2] as object), error: "…" },
    { server: "gone", ok: false, status: 502, error: "…" },
  );

  // Still listed on b for the proxy, and no server succeeds now: the first failure's status and
  // every server's error, which the client raises.
  const admin = new Ollama({ host: p.url, headers: { authorization: `Bearer ${p.adminToken}` } });
  await assert.rejects(admin.delete({ model: "llama3" }), /model 'llama3' not found/);
});
