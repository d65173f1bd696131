import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { lastReceived, startExternal } from "./external-helpers.js";

// A model assigned to an OpenAI-style host answers a /v1/messages client there: the request
// is translated to a chat completion (system first, max_tokens, stop sequences, the usage
// asked for on a stream), and the answer comes back as an Anthropic message, or as Anthropic's
// SSE events as the provider's chunks arrive, with the provider's token counts.

test("/v1/messages for a model on an OpenAI host: translated both ways, streamed and whole", async (t) => {
  const x = await startExternal(t, "openai");
  const client = new Anthropic({ baseURL: x.url, authToken: x.userToken, maxRetries: 0 });
  const request = {
    model: x.model,
    max_tokens: 300,
    system: "Be brief.",
    temperature: 0.2,
    stop_sequences: ["END"],
    messages: [
      { role: "user" as const, content: "Hi" },
      { role: "assistant" as const, content: [{ type: "text" as const, text: "Hello." }] },
      { role: "user" as const, content: [{ type: "text" as const, text: "Say something" }] },
    ],
  };

  const message = await client.messages.create(request);
  const answer = x.fake.answers.at(-1)!;
  assert.match(message.id, /^msg_[0-9a-f]{24}$/);
  assert.equal(message.model, x.model);
  assert.deepEqual(message.content, [{ type: "text", text: answer.text }]);
  assert.equal(message.stop_reason, "end_turn");
  assert.deepEqual(message.usage, {
    input_tokens: answer.promptTokens,
    output_tokens: answer.completionTokens,
  });

  const sent = lastReceived(x.fake);
  assert.equal(sent.path, "/v1/chat/completions");
  assert.equal(sent.headers.authorization, `Bearer ${x.fake.key}`);
  assert.deepEqual(sent.body, {
    model: x.model,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Say something" },
    ],
    max_tokens: 300,
    stream: false,
    temperature: 0.2,
    stop: ["END"],
  });

  const stream = client.messages.stream(request);
  const types: string[] = [];
  const deltas: string[] = [];
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "content_block_delta" && event.delta.type === "text_delta")
      deltas.push(event.delta.text);
  }
  const streamed = x.fake.answers.at(-1)!;
  assert.equal(deltas.join(""), streamed.text);
  assert.ok(deltas.length > 1, "the text arrives in the provider's pieces");
  assert.deepEqual(types, [
    "message_start",
    "content_block_start",
    ...deltas.map(() => "content_block_delta"),
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, "end_turn");
  assert.deepEqual(final.usage.output_tokens, streamed.completionTokens);
  assert.deepEqual(lastReceived(x.fake).body?.stream_options, { include_usage: true });

  assert.equal(x.done.length, 2);
  for (const [i, ctx] of x.done.entries()) {
    assert.equal(ctx.server, "openai");
    assert.equal(ctx.usage?.promptTokens, x.fake.answers[i]!.promptTokens);
    assert.equal(ctx.usage?.completionTokens, x.fake.answers[i]!.completionTokens);
  }
});
