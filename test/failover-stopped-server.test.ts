import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// A server stopped while requests keep coming: clients never see it (SPEC §6.5), and the
// pollers bring it back as soon as it answers again.

test("50 sequential requests see no error while the preferred server is stopped, and it is preferred again after it returns", async (t) => {
  const main = await startFakeOllama({ name: "main", models: [{ name: "llama3:latest" }] });
  const spare = await startFakeOllama({ name: "spare", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([main.close(), spare.close()]));
  const intervalMs = 200;
  const p = await startProxy(t, [main, spare], {
    extra: { health: { interval_seconds: intervalMs / 1000, timeout_ms: 500 } },
  });

  const servedBy: string[] = [];
  for (let i = 0; i < 50; i++) {
    if (i === 10) await main.kill();
    const r = await post(
      `${p.url}/api/generate`,
      { model: "llama3", prompt: `n${i}`, stream: i % 2 === 0 },
      p.auth,
    );
    assert.equal(r.status, 200, `request ${i}: ${r.text}`);
    assert.match(r.text, /"done":true/);
    servedBy.push(r.headers.get("x-ollama-proxy-server") ?? "?");
  }
  assert.deepEqual(new Set(servedBy.slice(0, 10)), new Set(["main"]));
  assert.deepEqual(new Set(servedBy.slice(10)), new Set(["spare"]));
  const mainState = p.server.fleet.servers().find((s) => s.key === "main")!;
  assert.equal(mainState.health, "down");

  await main.revive();
  const back = Date.now();
  await waitFor("main to be preferred again", async () => {
    const r = await post(
      `${p.url}/api/generate`,
      { model: "llama3", prompt: "again", stream: false },
      p.auth,
    );
    return r.headers.get("x-ollama-proxy-server") === "main";
  });
  // Two good polls bring it back (health.successes_before_up); the bound leaves room for a busy
  // machine and is still far from anything else that could bring it back (cache_ttl_seconds).
  const tookMs = Date.now() - back;
  assert.ok(tookMs < 2000, `back after ${tookMs} ms; two poll intervals are ${2 * intervalMs} ms`);
  for (const s of p.server.fleet.servers()) assert.equal(s.inFlight, 0);
});

test("a 503 (Ollama's queue is full) goes to the next server; with no other server the client gets the 503", async (t) => {
  const busy = await startFakeOllama({
    name: "busy",
    models: [{ name: "llama3:latest" }],
    behaviour: { failWith: 503 },
  });
  const idle = await startFakeOllama({ name: "idle", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([busy.close(), idle.close()]));
  const p = await startProxy(t, [busy, idle]);
  const r = await post(
    `${p.url}/api/chat`,
    { model: "llama3", messages: [{ role: "user", content: "x" }], stream: false },
    p.auth,
  );
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("x-ollama-proxy-server"), "idle");
  assert.equal(busy.work().length, 1);
  assert.equal(idle.work().length, 1);

  const alone = await startFakeOllama({
    name: "alone",
    models: [{ name: "llama3:latest" }],
    behaviour: { failWith: 503 },
  });
  t.after(() => alone.close());
  const q = await startProxy(t, [alone]);
  const r2 = await post(`${q.url}/api/chat`, { model: "llama3", messages: [] }, q.auth);
  assert.equal(r2.status, 503);
  assert.deepEqual(r2.body, { error: "fake alone failing with 503" });
});

test("a request is never sent twice to the same server, and bodies over the replay buffer are not retried", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b]);
  await a.kill();
  await b.kill();
  // Both refuse: one try each, then a 502 in the client's dialect.
  const r = await post(`${p.url}/v1/chat/completions`, { model: "llama3", messages: [] }, p.auth);
  assert.equal(r.status, 502);
  assert.equal((r.body as { error: { code: string } }).error.code, "upstream_unreachable");
  await a.revive();
  await b.revive();
  await waitFor("both servers back", () => p.server.fleet.servers().every((s) => s.health === "up"));

  // A 2 MB body streams through: when its server refuses, there is nothing to replay.
  await a.kill();
  const big = JSON.stringify({ model: "llama3", prompt: "x".repeat(2 * 1024 * 1024), stream: false });
  const sent = performance.now();
  const r2 = await post(`${p.url}/api/generate`, big, p.auth);
  assert.equal(r2.status, 502);
  // The rest of the body is read and dropped for the answer: not held back by the failed
  // upstream's pipe until the 10 s linger bound runs out.
  assert.ok(performance.now() - sent < 5000, `the 502 took ${Math.round(performance.now() - sent)} ms`);
  assert.equal(b.work().filter((w) => w.path === "/api/generate").length, 0);
  const small = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, p.auth);
  assert.equal(small.status, 200);
  assert.equal(small.headers.get("x-ollama-proxy-server"), "b");
});
