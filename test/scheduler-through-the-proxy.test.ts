import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { test } from "node:test";
import OpenAI from "openai";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load.js";
import { startGpuOllama } from "./fixtures/gpu-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { addUser, post, section, startProxy, waitFor } from "./helpers.js";

// The scheduler on the request path (SPEC §10), against a fake Ollama with a GPU's limits
// (parallel slots per model, one model in memory, load time, strict arrival order). Short
// service times keep these tests fast; the figures of the issue are the bench's.

const GPU = { numParallel: 2, maxLoadedModels: 1, loadMs: 60, serviceMs: 80, maxQueue: 512 };

function generate(
  url: string,
  auth: { authorization: string },
  model = "llama3",
  extra: Record<string, unknown> = {},
) {
  return post(`${url}/api/generate`, { model, prompt: "hi", stream: false, ...extra }, auth);
}

function servers(gpu: { port: number }, parallel: number | null = 2) {
  return { gpu: { host: "127.0.0.1", port: gpu.port, priority: 1, parallel } };
}

test("a light user's request waits about one service time behind a heavy user's sixteen", async (t) => {
  const gpu = await startGpuOllama({ models: ["llama3"], loaded: ["llama3"], limits: GPU });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { servers: servers(gpu) } });
  const heavy = addUser(p.config.database, "heavy");
  const light = addUser(p.config.database, "light");
  p.server.auth.refresh();

  const flood = Array.from({ length: 16 }, () => generate(p.url, heavy));
  await waitFor("the heavy user's requests to queue", async () => {
    const h = (await (await fetch(`${p.url}/health`)).json()) as { queue?: { waiting: number } };
    return (h.queue?.waiting ?? 0) >= 12;
  });
  const started = Date.now();
  const r = await generate(p.url, light);
  const took = Date.now() - started;
  assert.equal(r.status, 200);
  // In arrival order it would wait for the 14 ahead of it: 7 rounds of 80 ms.
  assert.ok(took < 7 * GPU.serviceMs, `the light user waited ${took} ms`);
  assert.match(r.headers.get("server-timing") ?? "", /^queue;dur=\d+$/);
  for (const x of await Promise.all(flood)) assert.equal(x.status, 200);
});

test("max_queue: one request more than may wait gets 503 at once, readable by the openai SDK", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3"],
    loaded: ["llama3"],
    limits: { ...GPU, serviceMs: 400 },
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { servers: servers(gpu, 1), scheduler: { max_queue: 2 } } });
  const running = [generate(p.url, p.auth), generate(p.url, p.auth), generate(p.url, p.auth)];
  await waitFor("one running and two waiting", async () => {
    const h = (await (await fetch(`${p.url}/health`)).json()) as { queue?: { waiting: number } };
    return h.queue?.waiting === 2;
  });
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: p.userToken, maxRetries: 0 });
  const started = Date.now();
  await assert.rejects(
    openai.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) =>
      err instanceof OpenAI.InternalServerError &&
      err.status === 503 &&
      /2 requests are already waiting/.test(err.message) &&
      Number(err.headers?.get("retry-after")) >= 1,
  );
  assert.ok(Date.now() - started < 300, "refused at once, not after a wait");
  for (const r of await Promise.all(running)) assert.equal(r.status, 200);
});

test("max_wait_seconds: a request that waited that long gets 503 and never reaches the server", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3"],
    loaded: ["llama3"],
    limits: { ...GPU, serviceMs: 1500 },
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], {
    extra: { servers: servers(gpu, 1), scheduler: { max_wait_seconds: 0.3 } },
  });
  const first = generate(p.url, p.auth);
  await waitFor("the first request to run", () => gpu.stats().running === 1);
  const late = await generate(p.url, p.auth);
  assert.equal(late.status, 503);
  assert.match((late.body as { error: string }).error, /within 0\.3 s \(scheduler\.max_wait_seconds\)/);
  assert.equal((await first).status, 200);
  assert.equal(gpu.stats().received, 1);
});

test("a client that leaves while waiting leaves the queue: its request never reaches the server", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3"],
    loaded: ["llama3"],
    limits: { ...GPU, serviceMs: 300 },
  });
  t.after(() => gpu.close());
  const p = await startLoggedProxy(t, [gpu], { extra: { servers: servers(gpu, 1) } });
  const first = generate(p.url, p.auth);
  await waitFor("the first request to run", () => gpu.stats().running === 1);
  const second = generate(p.url, p.auth, "llama3", { prompt: "waits its turn" });
  await new Promise<void>((resolve) => {
    const req = request(`${p.url}/api/generate`, { method: "POST", headers: p.auth });
    req.on("error", () => resolve());
    req.end(JSON.stringify({ model: "llama3", prompt: "gone", stream: false }));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 100);
  });
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  assert.equal(gpu.stats().received, 2, "the abandoned request was never sent");
  const rows = await p.waitForRows(3);
  const gone = rows.find((r) => r.client_aborted === 1)!;
  assert.equal(gone.server, null);
  assert.equal(gone.queue_ms, null);
  const waited = rows.filter((r) => r.client_aborted === 0).map((r) => r.queue_ms!);
  assert.ok(Math.max(...waited) >= 150, `the second waited its turn: ${waited.join(", ")} ms`);
});

test("a server disabled by a reload with requests waiting for it hands them to another, or a 503", async (t) => {
  const limits = { ...GPU, serviceMs: 400 };
  const gpu1 = await startGpuOllama({ name: "gpu1", models: ["llama3"], loaded: ["llama3"], limits });
  const gpu2 = await startGpuOllama({ name: "gpu2", models: ["llama3"], loaded: ["llama3"], limits });
  t.after(() => Promise.all([gpu1.close(), gpu2.close()]));
  const both = (enabled1: boolean, enabled2 = true) => ({
    gpu1: { host: "127.0.0.1", port: gpu1.port, priority: 1, parallel: 1, enabled: enabled1 },
    gpu2: { host: "127.0.0.1", port: gpu2.port, priority: 2, parallel: 1, enabled: enabled2 },
  });
  const p = await startProxy(t, [gpu1, gpu2], { extra: { servers: both(true) } });
  const reload = (servers: Record<string, unknown>) => {
    writeFileSync(
      p.file,
      stringify({ test: { database: p.config.database, ...section([gpu1, gpu2], { servers }) } }),
    );
    p.server.reload(loadConfig({ file: p.file, env: "test" }).config);
  };
  const queued = (n: number) =>
    waitFor(`${n} waiting`, async () => {
      const h = (await (await fetch(`${p.url}/health`)).json()) as { queue?: { waiting: number } };
      return h.queue?.waiting === n;
    });

  const reqs = [generate(p.url, p.auth), generate(p.url, p.auth), generate(p.url, p.auth)];
  await queued(1);
  reload(both(false));
  const answers = await Promise.all(reqs);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200],
    "the running requests were not cut",
  );
  assert.equal(gpu2.stats().received, 2, "the waiting request went to the server still enabled");

  // With no server left for it, a waiting request gets its 503 at once.
  const running = generate(p.url, p.auth);
  const waiting = generate(p.url, p.auth);
  await queued(1);
  reload(both(false, false));
  const refused = await waiting;
  assert.equal(refused.status, 503);
  assert.match(
    (refused.body as { error: string }).error,
    /no server can take model "llama3:latest" any more/,
  );
  assert.equal((await running).status, 200);
});

test("a reload that shrinks parallel never cuts a running request; new ones wait for the smaller limit", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3"],
    loaded: ["llama3"],
    limits: { ...GPU, serviceMs: 300 },
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { servers: servers(gpu, 2) } });
  const both = [generate(p.url, p.auth), generate(p.url, p.auth)];
  await waitFor("two running", () => gpu.stats().running === 2);
  writeFileSync(
    p.file,
    stringify({ test: { database: p.config.database, ...section([gpu], { servers: servers(gpu, 1) }) } }),
  );
  p.server.reload(loadConfig({ file: p.file, env: "test" }).config);
  const third = generate(p.url, p.auth);
  for (const r of await Promise.all(both)) assert.equal(r.status, 200);
  assert.equal((await third).status, 200);
  const h = (await (await fetch(`${p.url}/health`)).json()) as {
    servers: { schedule?: { parallel: number } }[];
  };
  assert.equal(h.servers[0]!.schedule?.parallel, 1);
});
