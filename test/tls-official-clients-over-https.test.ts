import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { makeTlsPair, trusting } from "./fixtures/tls-pair.js";
import { startProxy, tempDir } from "./helpers.js";

// With `tls`, the proxy serves HTTPS on proxy_port; the official clients reach it with the
// private CA (here the self-signed certificate itself) trusted, exactly as over HTTP.

test("the ollama client and the openai SDK work over HTTPS with the CA trusted", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest", loaded: true }],
  });
  t.after(() => backend.close());
  const pair = makeTlsPair(tempDir(t));
  const proxy = await startProxy(t, [backend], { extra: { tls: { cert: pair.cert, key: pair.key } } });
  assert.match(proxy.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const dispatcher = trusting(pair.cert);
  t.after(() => dispatcher.close());
  const viaCa: typeof fetch = (input, init) =>
    fetch(input, { ...init, dispatcher } as RequestInit & { dispatcher: unknown });

  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth, fetch: viaCa });
  const gen = await ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  assert.equal(gen.response, "w0 w1 w2 ");
  let chatText = "";
  for await (const part of await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    chatText += part.message.content;
  }
  assert.equal(chatText, "w0 w1 w2 ");
  assert.deepEqual(
    (await ollama.list()).models.map((m) => m.name),
    ["llama3:latest"],
  );

  const openai = new OpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: proxy.userToken,
    maxRetries: 0,
    fetchOptions: { dispatcher } as never,
  });
  const done = await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(done.choices[0]?.message.content, "w0 w1 w2 ");
  let text = "";
  for await (const chunk of await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    text += chunk.choices[0]?.delta.content ?? "";
  }
  assert.equal(text, "w0 w1 w2 ");
});

test("a client that does not trust the certificate is refused by its own TLS check", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const pair = makeTlsPair(tempDir(t));
  const proxy = await startProxy(t, [backend], { extra: { tls: { cert: pair.cert, key: pair.key } } });
  const err = await fetch(`${proxy.url}/api/tags`, { headers: proxy.auth }).then(
    () => null,
    (e: Error & { cause?: { code?: string } }) => e,
  );
  assert.equal(err?.cause?.code, "DEPTH_ZERO_SELF_SIGNED_CERT");
  // Plain HTTP on the HTTPS port gets no answer in clear.
  const plain = await fetch(proxy.url.replace("https:", "http:"), { headers: proxy.auth }).then(
    (r) => r.status,
    () => "refused",
  );
  assert.equal(plain, "refused");
});
