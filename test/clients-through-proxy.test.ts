import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The official clients, pointed at the proxy as if it were one Ollama, must work unchanged.

test("the ollama client works through the proxy for every endpoint", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest", loaded: true }, { name: "nomic-embed-text:latest" }],
  });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });

  const gen = await ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  assert.equal(gen.response, "w0 w1 w2 ");
  assert.equal(gen.done, true);
  assert.equal(gen.eval_count, 3);

  let streamed = "";
  let final: { done: boolean; eval_count?: number } | undefined;
  for await (const part of await ollama.generate({ model: "llama3", prompt: "hi", stream: true })) {
    streamed += part.response;
    final = part;
  }
  assert.equal(streamed, "w0 w1 w2 ");
  assert.equal(final?.done, true);
  assert.equal(final?.eval_count, 3);

  const chat = await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: false,
  });
  assert.equal(chat.message.content, "w0 w1 w2 ");
  let chatText = "";
  for await (const part of await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    chatText += part.message.content;
  }
  assert.equal(chatText, "w0 w1 w2 ");

  const emb = await ollama.embed({ model: "nomic-embed-text", input: ["a", "b"] });
  assert.equal(emb.embeddings.length, 2);
  const old = await ollama.embeddings({ model: "nomic-embed-text", prompt: "a" });
  assert.deepEqual(old.embedding, [0.5, -0.25, 0.125]);

  const show = await ollama.show({ model: "llama3" });
  assert.equal(show.details.family, "llama");

  const list = await ollama.list();
  assert.deepEqual(list.models.map((m) => m.name).sort(), ["llama3:latest", "nomic-embed-text:latest"]);
  const ps = await ollama.ps();
  assert.deepEqual(
    ps.models.map((m) => m.name),
    ["llama3:latest"],
  );
  const version = await ollama.version();
  assert.equal(version.version, "0.12.0");

  await assert.rejects(
    ollama.generate({ model: "nope", prompt: "x", stream: false }),
    /model "nope" not found/,
  );
});

test("the openai SDK works through the proxy", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const openai = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });

  const done = await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(done.choices[0]?.message.content, "w0 w1 w2 ");
  assert.equal(done.usage?.completion_tokens, 3);

  let text = "";
  let usage: OpenAI.CompletionUsage | undefined | null;
  const stream = await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, "w0 w1 w2 ");
  assert.equal(usage?.completion_tokens, 3);

  const completion = await openai.completions.create({ model: "llama3", prompt: "hi" });
  assert.equal(completion.choices[0]?.text, "w0 w1 w2 ");
  const emb = await openai.embeddings.create({ model: "llama3", input: "x" });
  assert.equal(emb.data.length, 1);
  const models = await openai.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    ["llama3:latest"],
  );
  const one = await openai.models.retrieve("llama3");
  assert.equal(one.id, "llama3:latest");

  await assert.rejects(
    openai.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
    (err: unknown) => err instanceof OpenAI.NotFoundError,
  );
  const bad = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "olp_wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError);
});
