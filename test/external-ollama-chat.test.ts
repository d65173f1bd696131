import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatResponse } from "ollama";
import { lastReceived, type ProviderKind, startExternal } from "./external-helpers.js";

// /api/chat from the ollama client reaches OpenAI and Anthropic hosts, streamed and not, and
// comes back as Ollama's own answer: message chunks, then a done chunk with counts and durations.

const messages = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Name a colour." },
  { role: "assistant", content: "Blue." },
  { role: "user", content: "Another one, please." },
];
const options = { temperature: 0.2, top_p: 0.9, top_k: 40, seed: 7, stop: ["\n\n"], num_predict: 64 };

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  for (const stream of [true, false]) {
    test(`ollama /api/chat → ${kind} host, stream: ${stream}`, async (t) => {
      const x = await startExternal(t, kind);
      let parts: ChatResponse[];
      if (stream) {
        parts = [];
        for await (const p of await x.ollama.chat({ model: x.model, messages, options, stream: true }))
          parts.push(p);
      } else {
        parts = [await x.ollama.chat({ model: x.model, messages, options, stream: false })];
      }
      const answer = x.fake.answers[0]!;
      assert.equal(x.fake.answers.length, 1);
      const final = parts[parts.length - 1]!;
      if (stream) {
        // One chunk per provider delta, then the synthesized final one.
        assert.equal(parts.length, answer.text.split(/(?<= )/).length + 1);
        assert.ok(parts.slice(0, -1).every((p) => p.done === false && p.model === x.model));
      }
      assert.equal(parts.map((p) => p.message.content).join(""), answer.text);
      assert.match(answer.text, /🌍.*Another one, please\./);
      assert.equal(final.done, true);
      assert.equal(final.done_reason, "stop");
      assert.equal(final.model, x.model);
      assert.equal(final.prompt_eval_count, answer.promptTokens);
      assert.equal(final.eval_count, answer.completionTokens);
      for (const k of ["total_duration", "prompt_eval_duration", "eval_duration"] as const) {
        assert.ok(Number.isInteger(final[k]) && final[k] >= 0, `${k} is a whole number of ns`);
      }
      assert.ok(final.total_duration >= final.eval_duration);

      const sent = lastReceived(x.fake);
      const body = sent.body!;
      assert.equal(body.model, x.model);
      assert.equal(body.stream, stream);
      assert.equal(body.temperature, 0.2);
      assert.equal(body.top_p, 0.9);
      assert.equal(body.max_tokens, 64);
      if (kind === "openai") {
        assert.equal(sent.path, "/v1/chat/completions");
        assert.equal(sent.headers.authorization, `Bearer ${x.fake.key}`);
        assert.deepEqual(body.messages, messages);
        assert.equal(body.seed, 7);
        assert.deepEqual(body.stop, ["\n\n"]);
        assert.equal(body.top_k, undefined, "OpenAI refuses unknown fields");
        assert.deepEqual(body.stream_options, stream ? { include_usage: true } : undefined);
      } else {
        assert.equal(sent.path, "/v1/messages");
        assert.equal(sent.headers["x-api-key"], x.fake.key);
        assert.equal(sent.headers["anthropic-version"], "2023-06-01");
        assert.equal(sent.headers.authorization, undefined);
        assert.equal(body.system, "You are terse.");
        assert.deepEqual(body.messages, messages.slice(1));
        assert.equal(body.top_k, 40);
        assert.deepEqual(body.stop_sequences, ["\n\n"]);
      }
      // The client's token goes nowhere but the proxy.
      for (const r of [...x.fake.received, ...x.ollamaBackend.received]) {
        assert.ok(!JSON.stringify(r.headers).includes(x.userToken));
      }
    });
  }
}

test("ollama /api/chat → anthropic host defaults max_tokens, which Anthropic requires", async (t) => {
  const x = await startExternal(t, "anthropic");
  const res = await x.ollama.chat({
    model: x.model,
    messages: [{ role: "user", content: "hi" }],
    stream: false,
  });
  assert.equal(res.message.content, x.fake.answers[0]!.text);
  assert.equal(lastReceived(x.fake).body!.max_tokens, 4096);
});

test("an empty /api/chat loads the model, as Ollama answers it, without calling the provider", async (t) => {
  const x = await startExternal(t, "openai");
  const res = await x.ollama.chat({ model: x.model, messages: [], stream: false });
  assert.equal(res.done, true);
  assert.equal(res.done_reason, "load");
  assert.equal(x.fake.received.length, 0);
});
