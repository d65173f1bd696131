import assert from "node:assert/strict";
import { once } from "node:events";
import { request } from "node:http";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { startProxy, type TestProxy, waitFor } from "./helpers.js";

// A client that goes away mid-generation must stop the generation: Ollama only stops
// working on a request when its connection closes. Within a second, the backend's request
// is aborted and the proxy holds nothing for it.

const WITHIN_MS = 1000;
// A stream long enough (1000 × 20 ms) that only an abort can end it inside the test.
const LONG = { chunks: 1000, intervalMs: 20 };

async function settled(
  proxy: TestProxy,
  backend: Awaited<ReturnType<typeof startFakeOllama>>,
  aborts: number,
) {
  await waitFor(
    `the backend to see abort #${aborts}`,
    () => backend.aborted() === aborts && backend.inProgress() === 0,
    WITHIN_MS,
  );
  await waitFor(
    "the proxy to let go of the request",
    () => proxy.server.active() === 0 && proxy.server.fleet.servers()[0]!.inFlight === 0,
    WITHIN_MS,
  );
}

test("a raw client closing its socket mid-stream aborts the upstream request", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: LONG });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const [path, body] of [
    ["/api/chat", '{"model":"llama3","messages":[{"role":"user","content":"hi"}]}'],
    ["/v1/chat/completions", '{"model":"llama3","messages":[{"role":"user","content":"hi"}],"stream":true}'],
  ] as const) {
    const before = backend.aborted();
    const req = request(`${proxy.url}${path}`, { method: "POST", headers: proxy.auth });
    req.end(body);
    const [res] = (await once(req, "response")) as [import("node:http").IncomingMessage];
    assert.equal(res.statusCode, 200);
    await once(res, "data"); // the generation is under way
    assert.equal(backend.inProgress(), 1);
    req.destroy();
    await settled(proxy, backend, before + 1);
  }
});

test("the ollama client's abort() stops the generation upstream", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: LONG });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });

  const stream = await ollama.generate({ model: "llama3", prompt: "write forever", stream: true });
  let parts = 0;
  await assert.rejects(async () => {
    for await (const _ of stream) {
      if (++parts === 3) stream.abort();
    }
  }, /abort/i);
  await settled(proxy, backend, 1);
});

test("the openai SDK's abort stops the generation upstream", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: LONG });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });

  const stream = await client.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "write forever" }],
    stream: true,
  });
  let parts = 0;
  // The SDK ends the iteration quietly on its own abort.
  for await (const _ of stream) {
    if (++parts === 3) stream.controller.abort();
  }
  assert.ok(parts >= 3 && parts < 1000, `${parts} parts`);
  await settled(proxy, backend, 1);
});

test("a client that leaves before the first byte also aborts the upstream request", async (t) => {
  // The model is "loading": no response headers for a long time.
  const backend = await startFakeOllama({ name: "gpu1", behaviour: { headerDelayMs: 30_000 } });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const req = request(`${proxy.url}/api/generate`, { method: "POST", headers: proxy.auth });
  req.on("error", () => {});
  req.end('{"model":"llama3","prompt":"hi"}');
  await waitFor("the request to reach the backend", () => backend.inProgress() === 1, WITHIN_MS);
  req.destroy();
  await settled(proxy, backend, 1);
});

test("a client leaving mid-stream is logged as a client abort, and the backend is not blamed", async (t) => {
  const backend = await startFakeOllama({ name: "gpu", behaviour: LONG });
  t.after(() => backend.close());
  const p = await startLoggedProxy(t, [backend]);
  const server = p.server.fleet.servers()[0]!;

  await new Promise<void>((resolve, reject) => {
    const req = request(`${p.url}/api/generate`, { method: "POST", headers: p.auth });
    req.on("response", (res) => {
      let chunks = 0;
      res.on("data", () => {
        if (++chunks === 3) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on("error", () => {});
    req.end(JSON.stringify({ model: "llama3", prompt: "long" }));
    setTimeout(() => reject(new Error("no chunks")), 5000).unref();
  });
  await waitFor("the backend to see its request aborted", () => backend.aborted() === 1, WITHIN_MS);
  assert.equal(backend.inProgress(), 0);
  assert.equal(server.inFlight, 0);
  assert.equal(server.health, "up", "a client leaving is not the backend's fault");

  const [row] = await p.waitForRows(1);
  assert.equal(row?.client_aborted, 1);
  assert.equal(row?.error_code, null);
  assert.equal(row?.server, "gpu");
});
