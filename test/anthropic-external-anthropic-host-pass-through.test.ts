import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { lastReceived, startExternal } from "./external-helpers.js";

// A model assigned to an Anthropic host answers there: /v1/messages goes as the client wrote
// it — only the model name (the one the provider knows) and the key (the operator's, never the
// client's token) change, and the client's anthropic-version and anthropic-beta go along — and
// the answer comes back as Anthropic sent it, streamed event by event, with its token counts
// read for the request log.

test("/v1/messages for a model on an Anthropic host: the body as written, the answer as sent", async (t) => {
  const x = await startExternal(t, "anthropic");
  const client = new Anthropic({
    baseURL: x.url,
    authToken: x.userToken,
    maxRetries: 0,
    defaultHeaders: { "anthropic-beta": "interleaved-thinking-2025-05-14" },
  });
  const request = {
    model: x.model,
    max_tokens: 256,
    system: [{ type: "text" as const, text: "Be brief.", cache_control: { type: "ephemeral" as const } }],
    metadata: { user_id: "session-42" },
    messages: [{ role: "user" as const, content: "Hello there" }],
  };

  const message = await client.messages.create(request);
  const answer = x.fake.answers.at(-1)!;
  assert.deepEqual(message.content, [{ type: "text", text: answer.text }]);
  assert.deepEqual(message.usage, {
    input_tokens: answer.promptTokens,
    output_tokens: answer.completionTokens,
  });

  const sent = lastReceived(x.fake);
  assert.equal(sent.path, "/v1/messages");
  assert.deepEqual(sent.body, request, "every field the client sent, untouched");
  assert.equal(sent.headers["x-api-key"], x.fake.key, "the operator's key");
  assert.equal(sent.headers.authorization, undefined, "the client's token stays at the proxy");
  assert.equal(sent.headers["anthropic-beta"], "interleaved-thinking-2025-05-14");
  assert.equal(sent.headers["anthropic-version"], "2026-10-21", "the API version the client speaks");
  assert.ok(!sent.raw.includes(x.userToken));

  // Streamed: relayed event by event, pings included, and assembled by the SDK.
  const res = await fetch(`${x.url}/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": x.userToken,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
    },
    body: JSON.stringify({ ...request, model: `${x.model}:latest`, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const types = [...(await res.text()).matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  const words = x.fake.answers.at(-1)!.text.split(/(?<= )/).length;
  assert.deepEqual(types, [
    "message_start",
    "content_block_start",
    "ping",
    ...Array(words).fill("content_block_delta"),
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  assert.equal(lastReceived(x.fake).headers["anthropic-version"], "2023-06-01");
  assert.equal(lastReceived(x.fake).body?.model, x.model, "the name the provider knows");

  const stream = client.messages.stream({
    ...request,
    messages: [{ role: "user", content: "Count to three" }],
  });
  let text = "";
  stream.on("text", (piece) => {
    text += piece;
  });
  const final = await stream.finalMessage();
  assert.equal(text, x.fake.answers.at(-1)!.text);
  assert.equal(final.usage.output_tokens, x.fake.answers.at(-1)!.completionTokens);

  // The request log: input tokens from message_start, output tokens from message_delta.
  assert.equal(x.done.length, 3);
  for (const [i, ctx] of x.done.entries()) {
    const a = x.fake.answers[i]!;
    assert.equal(ctx.server, "anthropic");
    assert.equal(ctx.status, 200);
    assert.equal(ctx.usage?.promptTokens, a.promptTokens, `request ${i}: prompt tokens`);
    assert.equal(ctx.usage?.completionTokens, a.completionTokens, `request ${i}: completion tokens`);
    assert.equal(ctx.usage?.doneReason, "end_turn");
  }
});
