import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, request } from "node:http";
import test from "node:test";
import { Ollama } from "ollama";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { type FakeOllama, startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// A client that goes away from the local door must stop the generation on the GPU: the door
// destroys its request to the proxy, the proxy its request to Ollama — within a second.

const WITHIN_MS = 1000;
// Long enough (1000 × 20 ms) that only an abort ends it inside the test.
const LONG = { chunks: 1000, intervalMs: 20 };

async function aborted(backend: FakeOllama, count: number) {
  await waitFor(
    `the backend to see abort #${count}`,
    () => backend.aborted() === count && backend.inProgress() === 0,
    WITHIN_MS,
  );
}

test("a client closing its socket mid-stream aborts the generation behind connect", async (t) => {
  clientHome(t);
  const backend = await startFakeOllama({ name: "gpu1", behaviour: LONG });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);

  for (const [i, [path, body]] of [
    ["/api/chat", '{"model":"llama3","messages":[{"role":"user","content":"hi"}]}'],
    ["/v1/chat/completions", '{"model":"llama3","messages":[{"role":"user","content":"hi"}],"stream":true}'],
  ].entries()) {
    const req = request(`${door.url}${path}`, { method: "POST" });
    req.on("error", () => {});
    req.end(body);
    const [res] = (await once(req, "response")) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    await once(res, "data"); // the generation is under way
    req.destroy();
    await aborted(backend, i + 1);
  }
});

test("a client leaving before the first byte (a model still loading) aborts it too", async (t) => {
  clientHome(t);
  const backend = await startFakeOllama({ name: "gpu1", behaviour: { headerDelayMs: 30_000 } });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);

  const req = request(`${door.url}/api/generate`, { method: "POST" });
  req.on("error", () => {});
  req.end('{"model":"llama3","prompt":"hi"}');
  await waitFor("the request to reach the backend", () => backend.work().length === 1);
  req.destroy();
  await aborted(backend, 1);
});

test("the ollama client's abort() through connect stops the generation", async (t) => {
  clientHome(t);
  const backend = await startFakeOllama({ name: "gpu1", behaviour: LONG });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);
  const ollama = new Ollama({ host: door.url });

  const stream = await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "write forever" }],
    stream: true,
  });
  let parts = 0;
  await assert.rejects(async () => {
    for await (const _ of stream) {
      if (++parts === 3) stream.abort();
    }
  }, /abort/i);
  await aborted(backend, 1);
});
