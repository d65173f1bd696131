import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { startProxy } from "./helpers.js";

// With one server and no other to fail over to, a connection that fails before any byte of
// the answer is a 502 in the client's dialect, saying which server and why.

// Polls far apart: the request, not a poller, is the first to find the server gone.
const QUIET = { health: { interval_seconds: 3600, timeout_ms: 5000 } };

test("a server that went away: 502 in Ollama's shape", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: QUIET });
  await backend.kill();

  const res = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","prompt":"hi"}',
  });
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), { error: "gpu1 is unreachable (ECONNREFUSED)" });
  assert.ok(res.headers.get("x-request-id"));
  // The proxy itself is fine.
  assert.equal(await (await fetch(`${proxy.url}/`)).text(), "Ollama is running");
});

test("a server that went away: 502 in OpenAI's shape, an APIError in the SDK", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: QUIET });
  await backend.kill();

  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) =>
      err instanceof OpenAI.APIError &&
      err.status === 502 &&
      (err.error as { message?: string; type?: string; code?: string }).message ===
        "gpu1 is unreachable (ECONNREFUSED)" &&
      (err.error as { type?: string }).type === "server_error" &&
      (err.error as { code?: string }).code === "upstream_unreachable",
  );
});

test("a server that accepts and hangs up before answering: 502, and the ollama client says so", async (t) => {
  const hostile = await startRawUpstream("flaky", (socket) => socket.destroy());
  t.after(() => hostile.close());
  const proxy = await startProxy(t, [hostile], { extra: QUIET });
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });

  await assert.rejects(
    ollama.generate({ model: "llama3", prompt: "hi", stream: false }),
    (err: unknown) =>
      (err as { status_code?: number }).status_code === 502 &&
      /^flaky is unreachable \((ECONNRESET|EPIPE)\)$/.test((err as Error).message),
  );
  assert.equal(hostile.hits, 1, "one server, one attempt");
});

test("a server that answers garbage: 502 naming an invalid response", async (t) => {
  const hostile = await startRawUpstream("garbled", (socket) => socket.end("SMTP ready\r\n\r\n"));
  t.after(() => hostile.close());
  const proxy = await startProxy(t, [hostile], { extra: QUIET });
  const res = await fetch(`${proxy.url}/api/chat`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","messages":[]}',
  });
  assert.equal(res.status, 502);
  assert.deepEqual(await res.json(), { error: "garbled sent an invalid HTTP response" });
});
