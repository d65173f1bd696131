import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { startProxy, waitFor } from "./helpers.js";

// A backend that dies (or goes silent) after the client got its headers cannot be retried.
// The client's stream must end — never hang — and a streamed answer ends with one error in
// its own framing, which the official clients raise as an error.

// Chunks 20 ms apart, so that the two sent before the socket is destroyed are on the wire.
const DIES = { chunks: 5, dieAfterChunks: 2, intervalMs: 20 };
const DEADLINE = { signal: () => AbortSignal.timeout(5000) };

test('NDJSON: the stream ends with an {"error"} line after the chunks that arrived', async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: DIES });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const res = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","prompt":"hi"}',
    signal: DEADLINE.signal(),
  });
  assert.equal(res.status, 200);
  const lines = (await res.text())
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.slice(0, 2).map((l) => l.response),
    ["w0 ", "w1 "],
  );
  assert.equal(lines.length, 3);
  assert.deepEqual(Object.keys(lines[2]!), ["error"]);
  assert.match(lines[2]!.error as string, /^gpu1 stopped mid-response \(connection lost\)$/);
});

test("the ollama client raises the in-band error instead of hanging", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: DIES });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });

  let text = "";
  await assert.rejects(async () => {
    for await (const part of await ollama.chat({
      model: "llama3",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    })) {
      text += part.message.content;
    }
  }, /gpu1 stopped mid-response/);
  assert.equal(text, "w0 w1 ");
});

test("SSE: the stream ends with an error event the openai SDK raises", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: DIES });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const raw = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","messages":[],"stream":true}',
    signal: DEADLINE.signal(),
  });
  const events = (await raw.text()).trim().split("\n\n");
  assert.equal(events.length, 3);
  assert.ok(events[2]!.startsWith("data: "));
  const { error } = JSON.parse(events[2]!.slice("data: ".length)) as {
    error: { message: string; type: string; code: string };
  };
  assert.match(error.message, /^gpu1 stopped mid-response \(connection lost\)$/);
  assert.equal(error.type, "server_error");
  assert.equal(error.code, "upstream_stream_error");

  // The server was marked down by that failure; let the pollers bring it back.
  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });
  await waitFor("gpu1 to be up again", () => proxy.server.fleet.servers()[0]!.health === "up", 5000);
  let text = "";
  await assert.rejects(
    async () => {
      const stream = await client.chat.completions.create({
        model: "llama3",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    },
    (err: unknown) => err instanceof OpenAI.APIError && /gpu1 stopped mid-response/.test(err.message),
  );
  assert.equal(text, "w0 w1 ");
});

test("a backend that goes silent mid-stream is cut off after the idle timeout, in-band, and its request closed", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: { chunks: 10, stallAfterChunks: 2 } });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { upstream_idle_timeout_ms: 300 } } });

  const res = await fetch(`${proxy.url}/api/chat`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","messages":[{"role":"user","content":"x"}]}',
    signal: DEADLINE.signal(),
  });
  assert.equal(res.status, 200);
  const lines = (await res.text())
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.error, "gpu1 stopped mid-response (no data for 0.3 s)");
  await waitFor("the upstream socket to be closed", () => backend.inProgress() === 0);
  assert.equal(backend.aborted(), 1);

  // A silent stream is not a dead server: it stays up, and the ollama client raises the error
  // after the chunks that did arrive.
  assert.equal(proxy.server.fleet.servers()[0]!.health, "up");
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });
  let got = "";
  await assert.rejects(async () => {
    for await (const part of await ollama.generate({ model: "llama3", prompt: "x", stream: true }))
      got += part.response;
  }, /gpu1 stopped mid-response \(no data for 0\.3 s\)/);
  assert.equal(got, "w0 w1 ");
});

test("a non-streamed body cut short ends the client's response with an error, not a hang", async (t) => {
  // Promises 1000 bytes, sends 20, and closes.
  const hostile = await startRawUpstream("hostile", (socket) => {
    socket.end(
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":"llama3","r',
    );
  });
  t.after(() => hostile.close());
  const proxy = await startProxy(t, [hostile]);

  const res = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: '{"model":"llama3","prompt":"hi","stream":false}',
    signal: DEADLINE.signal(),
  });
  assert.equal(res.status, 200);
  await assert.rejects(res.text(), (err: Error) => err.name !== "TimeoutError" && err.name !== "AbortError");
  assert.equal(hostile.hits, 1);
});
