import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A policy's generation cap (options.num_predict_max) holds on /v1/messages too: Anthropic's
// max_tokens is what Ollama turns into num_predict there, so a larger one reaches the server
// as the cap; a smaller one is left as the client wrote it.

test("options.num_predict_max caps max_tokens on /v1/messages, as the server sees it", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: [{ name: "qwen3-coder:latest" }] });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], {
    extra: { policies: { default: { models: ["*"] }, short: { options: { num_predict_max: 100 } } } },
  });
  const store = openStore(p.config.database);
  const token = store.users.create("sam", { policy: "short" }).token;
  store.close();
  p.server.auth.refresh();
  const client = new Anthropic({ baseURL: p.url, authToken: token, maxRetries: 0 });
  const sentMaxTokens = () => JSON.parse(gpu.work().at(-1)!.body).max_tokens;

  await client.messages.create({
    model: "qwen3-coder",
    max_tokens: 4096,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(sentMaxTokens(), 100);
  await client.messages
    .stream({ model: "qwen3-coder", max_tokens: 64, messages: [{ role: "user", content: "hi" }] })
    .done();
  assert.equal(sentMaxTokens(), 64);
});
