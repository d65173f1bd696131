import assert from "node:assert/strict";
import { test } from "node:test";
import type OpenAI from "openai";
import { lastReceived, startExternal } from "./external-helpers.js";
import { waitFor } from "./helpers.js";

// The openai SDK against /v1: to an OpenAI-style host the request and answer pass through
// (model name and key swapped); to an Anthropic host both are translated, SSE included.

const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Say something." },
];

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return {
    chunks,
    text: chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""),
    usage: chunks.find((c) => c.usage)?.usage ?? null,
    finish: chunks.map((c) => c.choices[0]?.finish_reason).find((f) => f),
  };
}

test("openai SDK → openai host, not streamed: the provider's answer as it was", async (t) => {
  const x = await startExternal(t, "openai");
  // The client may write the name as Ollama lists it; the provider gets the name it knows.
  const r = await x.openai.chat.completions.create({ model: `${x.model}:latest`, messages });
  const sent = lastReceived(x.fake);
  assert.equal(sent.body!.model, x.model);
  assert.deepEqual(sent.body!.messages, messages);
  assert.equal(sent.headers.authorization, `Bearer ${x.fake.key}`);
  assert.equal(r.choices[0]!.message.content, x.fake.answers[0]!.text);
  assert.equal(r.model, `${x.model}-2024-08-06`);
  assert.equal(r.system_fingerprint, "fp_fake");
  assert.equal(r.usage?.prompt_tokens, x.fake.answers[0]!.promptTokens);
});

test("openai SDK → openai host, streamed without include_usage: no usage chunk reaches the client, the log still gets counts", async (t) => {
  const x = await startExternal(t, "openai");
  const got = await collect(
    await x.openai.chat.completions.create({ model: x.model, messages, stream: true }),
  );
  assert.equal(got.text, x.fake.answers[0]!.text);
  assert.equal(got.finish, "stop");
  assert.ok(
    got.chunks.every((c) => c.choices.length === 1 && !c.usage),
    "every chunk the client sees has a choice",
  );
  assert.deepEqual(lastReceived(x.fake).body!.stream_options, { include_usage: true });
  await waitFor("the request to be recorded", () => x.done.length === 1);
  assert.equal(x.done[0]!.usage?.completionTokens, x.fake.answers[0]!.completionTokens);
  assert.equal(x.done[0]!.usage?.promptTokens, x.fake.answers[0]!.promptTokens);
});

test("openai SDK → openai host, streamed with include_usage: the usage chunk arrives", async (t) => {
  const x = await startExternal(t, "openai");
  const got = await collect(
    await x.openai.chat.completions.create({
      model: x.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  assert.equal(got.text, x.fake.answers[0]!.text);
  assert.equal(got.usage?.completion_tokens, x.fake.answers[0]!.completionTokens);
  assert.deepEqual(got.chunks[got.chunks.length - 1]!.choices, []);
});

for (const includeUsage of [true, false]) {
  test(`openai SDK → anthropic host, streamed, include_usage: ${includeUsage}`, async (t) => {
    const x = await startExternal(t, "anthropic");
    const got = await collect(
      await x.openai.chat.completions.create({
        model: x.model,
        messages,
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      }),
    );
    const answer = x.fake.answers[0]!;
    assert.equal(got.text, answer.text);
    assert.equal(got.finish, "stop");
    assert.equal(got.chunks[0]!.choices[0]!.delta.role, "assistant");
    assert.ok(got.chunks.every((c) => c.object === "chat.completion.chunk" && c.model === x.model));
    if (includeUsage) {
      assert.deepEqual(got.usage, {
        prompt_tokens: answer.promptTokens,
        completion_tokens: answer.completionTokens,
        total_tokens: answer.promptTokens + answer.completionTokens,
      });
    } else {
      assert.equal(got.usage, null);
    }
    const body = lastReceived(x.fake).body!;
    assert.equal(body.system, "You are terse.");
    assert.deepEqual(body.messages, [{ role: "user", content: "Say something." }]);
    assert.equal(body.stream, true);
    assert.equal(body.max_tokens, 4096);
  });
}

test("openai SDK → anthropic host, not streamed: one chat.completion", async (t) => {
  const x = await startExternal(t, "anthropic");
  const r = await x.openai.chat.completions.create({
    model: x.model,
    messages,
    max_completion_tokens: 50,
    temperature: 0.5,
    stop: "END",
  });
  const answer = x.fake.answers[0]!;
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0]!.message.role, "assistant");
  assert.equal(r.choices[0]!.message.content, answer.text);
  assert.equal(r.choices[0]!.finish_reason, "stop");
  assert.equal(r.usage?.prompt_tokens, answer.promptTokens);
  assert.equal(r.usage?.completion_tokens, answer.completionTokens);
  const body = lastReceived(x.fake).body!;
  assert.equal(body.max_tokens, 50);
  assert.equal(body.temperature, 0.5);
  assert.deepEqual(body.stop_sequences, ["END"]);
  assert.equal(body.stream, false);
});

test("openai SDK response_format json_schema → anthropic host answers with the JSON", async (t) => {
  const x = await startExternal(t, "anthropic");
  const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] };
  const r = await x.openai.chat.completions.create({
    model: x.model,
    messages,
    response_format: { type: "json_schema", json_schema: { name: "reply", schema } },
  });
  assert.deepEqual(JSON.parse(r.choices[0]!.message.content!), x.fake.answers[0]!.toolCalls[0]!.arguments);
  assert.equal(r.choices[0]!.finish_reason, "stop");
  assert.equal(r.choices[0]!.message.tool_calls, undefined);
});
