import assert from "node:assert/strict";
import { test } from "node:test";
import { SERVER_BUSY, startGpuOllama } from "./fixtures/gpu-ollama.js";
import { post, waitFor } from "./helpers.js";

// The fake Ollama with a GPU's limits, over HTTP, driven directly (no proxy): it must show
// issue 12's problem — interleaved requests for two models reload a model for almost every
// request — and answer like Ollama (/api/ps, 503 "server busy", a client leaving).

test("driven directly, two models alternating reload a model for nearly every request", async (t) => {
  const fake = await startGpuOllama({
    models: ["a", "b"],
    limits: { numParallel: 2, maxLoadedModels: 1, loadMs: 40, serviceMs: 20 },
  });
  t.after(() => fake.close());
  const sent: Promise<{ status: number }>[] = [];
  for (let i = 0; i < 20; i++) {
    sent.push(post(`${fake.url}/api/generate`, { model: i % 2 === 0 ? "a" : "b", stream: false }));
    await new Promise((r) => setTimeout(r, 5));
  }
  const answers = await Promise.all(sent);
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(20).fill(200),
  );
  const stats = fake.stats();
  assert.equal(stats.served, 20);
  assert.ok(stats.loads >= 15, `${stats.loads} loads for 20 requests`);
});

test("/api/ps lists what is loaded now; /_gpu counts loads", async (t) => {
  const fake = await startGpuOllama({ models: ["a", "b"], limits: { loadMs: 10, serviceMs: 10 } });
  t.after(() => fake.close());
  const ps = async () =>
    ((await (await fetch(`${fake.url}/api/ps`)).json()) as { models: { name: string }[] }).models.map(
      (m) => m.name,
    );
  assert.deepEqual(await ps(), []);
  assert.equal((await post(`${fake.url}/api/generate`, { model: "a", stream: false })).status, 200);
  assert.deepEqual(await ps(), ["a:latest"]);
  const streamed = await post(`${fake.url}/api/chat`, { model: "b", messages: [] });
  assert.equal(streamed.status, 200);
  assert.equal(streamed.text.trim().split("\n").length, 2);
  assert.deepEqual(await ps(), ["b:latest"]);
  const stats = (await (await fetch(`${fake.url}/_gpu`)).json()) as { loads: number; served: number };
  assert.equal(stats.loads, 2);
  assert.equal(stats.served, 2);
  const unknown = await post(`${fake.url}/api/generate`, { model: "c", stream: false });
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { error: 'model "c" not found, try pulling it first' });
});

test("over its own max queue it answers 503 server busy, as Ollama does", async (t) => {
  const fake = await startGpuOllama({
    models: ["a"],
    loaded: ["a"],
    limits: { numParallel: 1, maxQueue: 1, serviceMs: 300 },
  });
  t.after(() => fake.close());
  const first = post(`${fake.url}/api/generate`, { model: "a", stream: false });
  await waitFor("the first request runs", () => fake.gpu.running() === 1);
  const second = post(`${fake.url}/api/generate`, { model: "a", stream: false });
  await waitFor("the second request waits", () => fake.gpu.waiting() === 1);
  const third = await post(`${fake.url}/api/generate`, { model: "a", stream: false });
  assert.equal(third.status, 503);
  assert.deepEqual(third.body, { error: SERVER_BUSY });
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
});

test("a client that leaves while its request waits: the request never runs", async (t) => {
  const fake = await startGpuOllama({
    models: ["a"],
    loaded: ["a"],
    limits: { numParallel: 1, serviceMs: 200 },
  });
  t.after(() => fake.close());
  const first = post(`${fake.url}/api/generate`, { model: "a", stream: false });
  await waitFor("the first request runs", () => fake.gpu.running() === 1);
  const leaving = new AbortController();
  const gone = fetch(`${fake.url}/api/generate`, {
    method: "POST",
    body: JSON.stringify({ model: "a", stream: false }),
    signal: leaving.signal,
  }).catch(() => "aborted");
  await waitFor("the second request waits", () => fake.gpu.waiting() === 1);
  leaving.abort();
  assert.equal(await gone, "aborted");
  await waitFor("the GPU drops it", () => fake.gpu.cancelledPending === 1);
  assert.equal((await first).status, 200);
  assert.equal(fake.stats().served, 1);
});
