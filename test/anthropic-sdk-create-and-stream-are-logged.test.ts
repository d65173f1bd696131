import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { waitFor } from "./helpers.js";

// Claude Code and the Anthropic SDKs talk to the proxy as they would to one Ollama
// (ANTHROPIC_BASE_URL=proxy, ANTHROPIC_AUTH_TOKEN=token): /v1/messages is routed by its model,
// the answer (a message, or SSE events) passes untouched, and the request log has the tokens
// the backend reported (the fake: 7 input tokens, one output token per word).

test("messages.create and messages.stream through the proxy, token counts in the request log", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "qwen3-coder:latest", loaded: true }],
    behaviour: { chunks: 4 },
  });
  t.after(() => backend.close());
  const p = await startLoggedProxy(t, [backend]);
  const client = new Anthropic({ baseURL: p.url, authToken: p.userToken, maxRetries: 0 });

  const message = await client.messages.create({
    model: "qwen3-coder",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hello, how are you?" }],
  });
  assert.equal(message.type, "message");
  assert.equal(message.role, "assistant");
  assert.deepEqual(message.content, [{ type: "text", text: "w0 w1 w2 w3 " }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.deepEqual(message.usage, { input_tokens: 7, output_tokens: 4 });

  // Streamed: each word is its own event, and the SDK assembles the message from them.
  backend.behaviour.intervalMs = 20;
  const stream = client.messages.stream({
    model: "qwen3-coder",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Count from 1 to 10" }],
  });
  const deltas: string[] = [];
  for await (const event of stream) {
    if (event.type === "content_block_delta" && event.delta.type === "text_delta")
      deltas.push(event.delta.text);
  }
  assert.deepEqual(deltas, ["w0 ", "w1 ", "w2 ", "w3 "]);
  const final = await stream.finalMessage();
  assert.deepEqual(final.content, [{ type: "text", text: "w0 w1 w2 w3 " }]);
  assert.equal(final.usage.output_tokens, 4);

  // The backend got Ollama's own endpoint, the body as sent, and no credential of the client's.
  const sent = backend.work().filter((r) => r.path === "/v1/messages");
  assert.equal(sent.length, 2);
  for (const r of sent) {
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers["x-api-key"], undefined);
    assert.equal(JSON.parse(r.body).model, "qwen3-coder");
  }

  const rows = await p.waitForRows(2);
  const pick = rows.map((r) => [
    r.path,
    r.model,
    r.server,
    r.status,
    r.prompt_tokens,
    r.completion_tokens,
    r.done_reason,
  ]);
  assert.deepEqual(pick, [
    ["/v1/messages", "qwen3-coder:latest", "gpu1", 200, 7, 4, "end_turn"],
    ["/v1/messages", "qwen3-coder:latest", "gpu1", 200, 7, 4, "end_turn"],
  ]);
  assert.ok(rows[1]!.tokens_per_s !== null && rows[1]!.tokens_per_s > 0, "a streamed answer has a rate");

  // Metrics count it like any request.
  await waitFor("the metrics to count both requests", async () => {
    const text = await (await fetch(`${p.url}/metrics`)).text();
    return /ollama_proxy_requests_total\{[^}]*endpoint="\/v1\/messages"[^}]*\} 2\b/.test(text);
  });
});
