import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startFakeOpenAI } from "./fixtures/fake-openai.js";
import { type LogRow, startLoggedProxy } from "./fixtures/logged-proxy.js";

// Through the official clients, every kind of inference request leaves one row with the
// token counts the backend reported (the fake reports 7 prompt tokens, 3 completion tokens,
// eval_duration 1 s; its embeddings 8 prompt tokens).

test("one row per request with the reported token counts, via the ollama and openai clients", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest", loaded: true }, { name: "nomic-embed-text:latest" }],
  });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], {
    extra: {
      external_hosts: { openai: { host: "127.0.0.1", port: 9, api_key_env: "NO_SUCH_KEY_VAR" } },
      model_config: { explicit_assignments: { "gpt-4o": "openai" } },
    },
  });
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });
  const openai = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });

  await ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  for await (const _ of await ollama.generate({ model: "llama3", prompt: "hi", stream: true })) {
    // drain
  }
  await ollama.chat({ model: "llama3", messages: [{ role: "user", content: "hi" }], stream: false });
  for await (const _ of await ollama.chat({
    model: "llama3:latest",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    // drain
  }
  await ollama.embed({ model: "nomic-embed-text", input: ["a", "b"] });
  await openai.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] });
  const stream = await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _ of stream) {
    // drain
  }
  await openai.embeddings.create({ model: "nomic-embed-text", input: "x" });
  await assert.rejects(ollama.generate({ model: "nope", prompt: "x", stream: false }), /not found/);
  await assert.rejects(openai.chat.completions.create({ model: "gpt-4o", messages: [] }), /external host/);

  const rows = await proxy.waitForRows(10);
  assert.equal(rows.length, 10);
  const pick = (r: LogRow) => [r.path, r.model, r.prompt_tokens, r.completion_tokens, r.status];
  assert.deepEqual(rows.map(pick), [
    ["/api/generate", "llama3:latest", 7, 3, 200],
    ["/api/generate", "llama3:latest", 7, 3, 200],
    ["/api/chat", "llama3:latest", 7, 3, 200],
    ["/api/chat", "llama3:latest", 7, 3, 200],
    ["/api/embed", "nomic-embed-text:latest", 8, null, 200],
    ["/v1/chat/completions", "llama3:latest", 7, 3, 200],
    ["/v1/chat/completions", "llama3:latest", 7, 3, 200],
    ["/v1/embeddings", "nomic-embed-text:latest", 8, null, 200],
    ["/api/generate", "nope:latest", null, null, 404],
    // An external host's model is stored as assigned: ":latest" means nothing there.
    ["/v1/chat/completions", "gpt-4o", null, null, 503],
  ]);
  for (const r of rows) {
    assert.equal(r.user_name, "alice");
    assert.equal(typeof r.user_id, "number");
    assert.equal(r.method, "POST");
    assert.equal(r.client_aborted, 0);
    assert.ok(r.duration_ms >= 0);
    assert.ok(r.bytes_in > 0, `bytes_in of ${r.path}`);
  }
  const served = rows.slice(0, 8);
  for (const r of served) {
    assert.equal(r.server, "gpu1");
    assert.equal(r.attempts, 1);
    assert.ok(r.bytes_out > 0);
    assert.ok(r.overhead_ms !== null && r.headers_ms !== null && r.ttft_ms !== null);
    assert.ok(r.overhead_ms <= r.headers_ms && r.headers_ms <= r.ttft_ms && r.ttft_ms <= r.duration_ms);
    assert.equal(r.error_code, null);
  }
  // Ollama's own eval rate: 3 tokens in eval_duration = 1 s.
  for (const r of rows.slice(0, 4)) {
    assert.equal(r.tokens_per_s, 3);
    assert.equal(r.eval_ms, 1000);
    assert.equal(r.load_ms, 100);
    assert.equal(r.done_reason, "stop");
  }
  // OpenAI reports no eval_duration: the streamed answer's rate is the wall-clock one; a body has none.
  assert.equal(rows[5]!.tokens_per_s, null);
  assert.ok(rows[6]!.tokens_per_s !== null && rows[6]!.tokens_per_s > 0);
  assert.equal(rows[5]!.done_reason, "stop");
  // A model no server lists goes to one that could pull it; Ollama's 404 body is recorded.
  assert.equal(rows[8]!.server, "gpu1");
  assert.equal(rows[8]!.error_code, "upstream_error");
  assert.match(rows[8]!.error_message ?? "", /model "nope" not found/);
  assert.equal(rows[9]!.error_code, "no_server");
});

test("a request served by an external host is logged with the provider's token counts", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const provider = await startFakeOpenAI();
  t.after(() => provider.close());
  const proxy = await startLoggedProxy(t, [backend], {
    extra: {
      external_hosts: {
        openai: { host: "127.0.0.1", port: provider.port, protocol: "http", api_key_env: "TEST_OPENAI_KEY" },
      },
      model_config: { explicit_assignments: { "gpt-4o": "openai" } },
    },
    environ: { TEST_OPENAI_KEY: provider.key },
  });
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });
  await ollama.chat({ model: "gpt-4o", messages: [{ role: "user", content: "two words" }], stream: false });
  for await (const _ of await ollama.chat({
    model: "gpt-4o",
    messages: [{ role: "user", content: "three more words" }],
    stream: true,
  })) {
    // drain
  }
  const rows = await proxy.waitForRows(2);
  assert.equal(provider.answers.length, 2);
  assert.deepEqual(
    rows.map((r) => [r.server, r.model, r.status, r.prompt_tokens, r.completion_tokens]),
    provider.answers.map((a) => ["openai", "gpt-4o", 200, a.promptTokens, a.completionTokens]),
  );
  assert.ok(rows.every((r) => r.ttft_ms !== null && r.duration_ms >= r.ttft_ms));
});
