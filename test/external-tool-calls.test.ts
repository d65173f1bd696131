import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatResponse, Message, Tool } from "ollama";
import type OpenAI from "openai";
import { lastReceived, type ProviderKind, startExternal } from "./external-helpers.js";

// Tool calls cross the translation both ways: the provider's calls (streamed as argument
// fragments, or whole) reach the client as its dialect's calls, and the client's next turn
// (the call and its result) reaches the provider paired by id.

const weather = { location: "Paris, FR", unit: "celsius", days: [1, 2] };
const parameters = {
  type: "object",
  properties: { location: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["location"],
};
const ollamaTools: Tool[] = [
  { type: "function", function: { name: "get_weather", description: "Weather for a place", parameters } },
];
const openaiTools: OpenAI.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", description: "Weather for a place", parameters } },
];
const behaviour = { toolCall: { name: "get_weather", arguments: weather } };

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  for (const stream of [true, false]) {
    test(`ollama /api/chat tool call ↔ ${kind} host, stream: ${stream}`, async (t) => {
      const x = await startExternal(t, kind, { behaviour });
      const ask: Message[] = [{ role: "user", content: "What is the weather in Paris?" }];
      const parts: ChatResponse[] = [];
      if (stream) {
        for await (const p of await x.ollama.chat({
          model: x.model,
          messages: ask,
          tools: ollamaTools,
          stream: true,
        }))
          parts.push(p);
      } else {
        parts.push(await x.ollama.chat({ model: x.model, messages: ask, tools: ollamaTools, stream: false }));
      }
      const calls = parts.flatMap((p) => p.message.tool_calls ?? []);
      assert.equal(calls.length, 1, "one whole call, never fragments");
      assert.equal(calls[0]!.function.name, "get_weather");
      assert.deepEqual(calls[0]!.function.arguments, weather);
      const final = parts[parts.length - 1]!;
      assert.equal(final.done, true);
      assert.equal(final.done_reason, "stop");

      const sent = lastReceived(x.fake).body!;
      if (kind === "openai") assert.deepEqual(sent.tools, ollamaTools);
      else
        assert.deepEqual(sent.tools, [
          { name: "get_weather", description: "Weather for a place", input_schema: parameters },
        ]);

      // The next turn: the client sends the call back with the tool's result.
      const callMessage = parts.find((p) => p.message.tool_calls)!.message;
      const next: Message[] = [
        ...ask,
        { role: "assistant", content: "", tool_calls: callMessage.tool_calls },
        { role: "tool", content: '{"temp": 21}', tool_name: "get_weather" },
      ];
      await x.ollama.chat({ model: x.model, messages: next, tools: ollamaTools, stream: false });
      const providerId = x.fake.answers[0]!.toolCalls[0]!.id;
      const second = lastReceived(x.fake).body!;
      if (kind === "openai") {
        assert.deepEqual((second.messages as unknown[]).slice(1), [
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: providerId,
                type: "function",
                function: { name: "get_weather", arguments: JSON.stringify(weather) },
              },
            ],
          },
          { role: "tool", tool_call_id: providerId, content: '{"temp": 21}' },
        ]);
      } else {
        assert.deepEqual((second.messages as unknown[]).slice(1), [
          {
            role: "assistant",
            content: [{ type: "tool_use", id: providerId, name: "get_weather", input: weather }],
          },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: providerId, content: '{"temp": 21}' }],
          },
        ]);
      }
    });
  }
}

for (const stream of [true, false]) {
  test(`openai SDK tool call ↔ anthropic host, stream: ${stream}`, async (t) => {
    const x = await startExternal(t, "anthropic", { behaviour });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
    let id = "";
    let name = "";
    let args = "";
    let finish: string | null = null;
    if (stream) {
      const s = await x.openai.chat.completions.create({
        model: x.model,
        messages,
        tools: openaiTools,
        stream: true,
      });
      for await (const chunk of s) {
        for (const c of chunk.choices[0]?.delta.tool_calls ?? []) {
          assert.equal(c.index, 0);
          id += c.id ?? "";
          name += c.function?.name ?? "";
          args += c.function?.arguments ?? "";
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } else {
      const r = await x.openai.chat.completions.create({ model: x.model, messages, tools: openaiTools });
      const call = r.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
      id = call.id;
      name = call.function.name;
      args = call.function.arguments;
      finish = r.choices[0]!.finish_reason;
      assert.equal(r.choices[0]!.message.content, null);
    }
    const provider = x.fake.answers[0]!.toolCalls[0]!;
    assert.equal(id, provider.id);
    assert.equal(name, "get_weather");
    assert.deepEqual(JSON.parse(args), weather);
    assert.equal(finish, "tool_calls");

    // The result goes back as OpenAI clients send it, and arrives as Anthropic's tool_result.
    await x.openai.chat.completions.create({
      model: x.model,
      tools: openaiTools,
      messages: [
        ...messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id, type: "function", function: { name, arguments: args } }],
        },
        { role: "tool", tool_call_id: id, content: "21 degrees" },
      ],
    });
    assert.deepEqual((lastReceived(x.fake).body!.messages as unknown[]).slice(1), [
      { role: "assistant", content: [{ type: "tool_use", id, name: "get_weather", input: weather }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "21 degrees" }] },
    ]);
  });
}

test("openai SDK tool call ↔ openai host passes through untouched, streamed", async (t) => {
  const x = await startExternal(t, "openai", { behaviour });
  let args = "";
  let id = "";
  const s = await x.openai.chat.completions.create({
    model: x.model,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: openaiTools,
    stream: true,
  });
  for await (const chunk of s) {
    for (const c of chunk.choices[0]?.delta.tool_calls ?? []) {
      args += c.function?.arguments ?? "";
      id += c.id ?? "";
    }
  }
  assert.equal(id, x.fake.answers[0]!.toolCalls[0]!.id);
  assert.deepEqual(JSON.parse(args), weather);
  assert.deepEqual(lastReceived(x.fake).body!.tools, openaiTools);
});
