import assert from "node:assert/strict";
import { test } from "node:test";
import { lastReceived, startExternal } from "./external-helpers.js";
import { post } from "./helpers.js";

// Embeddings go to OpenAI-style hosts (/v1/embeddings) from both dialects; Anthropic has no
// embeddings API, which the client is told plainly in its dialect.

const EMBED = "text-embedding-3-small";
const assign = (host: string) => ({ model_config: { explicit_assignments: { [EMBED]: host } } });

test("ollama /api/embed and /api/embeddings → openai host", async (t) => {
  const x = await startExternal(t, "openai", { extra: assign("openai") });
  const r = await x.ollama.embed({ model: EMBED, input: ["a", "bb"], dimensions: 3 });
  // The fake lists its vectors out of order; Ollama's answer is in input order.
  assert.deepEqual(r.embeddings, [
    [1, 0, 0.5],
    [2, 1, 0.5],
  ]);
  assert.equal(r.model, EMBED);
  assert.equal(r.prompt_eval_count, 2);
  assert.ok(r.total_duration > 0);
  const sent = lastReceived(x.fake);
  assert.equal(sent.path, "/v1/embeddings");
  assert.deepEqual(sent.body, { model: EMBED, input: ["a", "bb"], encoding_format: "float", dimensions: 3 });

  const old = await x.ollama.embeddings({ model: EMBED, prompt: "hello" });
  assert.deepEqual(old.embedding, [5, 0, 0.5]);
  assert.equal(lastReceived(x.fake).body!.input, "hello");
});

test("openai SDK /v1/embeddings → openai host passes through", async (t) => {
  const x = await startExternal(t, "openai", { extra: assign("openai") });
  const r = await x.openai.embeddings.create({ model: EMBED, input: ["abc"], encoding_format: "float" });
  assert.deepEqual(r.data[0]!.embedding, [3, 0, 0.5]);
  assert.equal(r.usage.prompt_tokens, 1);
  assert.equal(lastReceived(x.fake).headers.authorization, `Bearer ${x.fake.key}`);
});

test("embeddings for a model on an anthropic host: 400 in both dialects, nothing sent", async (t) => {
  const x = await startExternal(t, "anthropic");
  const headers = { authorization: `Bearer ${x.userToken}` };
  const native = await post(`${x.url}/api/embed`, { model: x.model, input: "x" }, headers);
  assert.equal(native.status, 400);
  assert.match((native.body as { error: string }).error, /embeddings is not available .* Anthropic host/);
  const v1 = await post(`${x.url}/v1/embeddings`, { model: x.model, input: "x" }, headers);
  assert.equal(v1.status, 400);
  assert.equal((v1.body as { error: { code: string } }).error.code, "bad_request");
  assert.equal(x.fake.received.length, 0);
});
