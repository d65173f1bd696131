import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { lastReceived, startExternal } from "./external-helpers.js";

// Claude Code lives on tool calls. Through an OpenAI-style host they cross the translation
// both ways: the provider's calls (whole, or streamed as argument fragments) reach the client
// as tool_use blocks with stop_reason tool_use, and the client's next turn — the tool_use and
// its tool_result — reaches the provider as an assistant tool call and a tool message, paired
// by id.

const weather = { location: "Paris, FR", unit: "celsius", days: [1, 2] };
const tools = [
  {
    name: "get_weather",
    description: "Weather for a place",
    input_schema: {
      type: "object" as const,
      properties: { location: { type: "string" } },
      required: ["location"],
    },
  },
];

for (const stream of [false, true]) {
  test(`tool_use through an OpenAI host, stream: ${stream}`, async (t) => {
    const x = await startExternal(t, "openai", {
      behaviour: { toolCall: { name: "get_weather", arguments: weather } },
    });
    const client = new Anthropic({ baseURL: x.url, authToken: x.userToken, maxRetries: 0 });
    const ask = {
      model: x.model,
      max_tokens: 200,
      tools,
      tool_choice: { type: "auto" as const, disable_parallel_tool_use: true },
      messages: [{ role: "user" as const, content: "Weather in Paris?" }],
    };
    const message = stream
      ? await client.messages.stream(ask).finalMessage()
      : await client.messages.create(ask);
    const call = x.fake.answers.at(-1)!.toolCalls[0]!;
    assert.deepEqual(message.content, [
      { type: "tool_use", id: call.id, name: "get_weather", input: weather },
    ]);
    assert.equal(message.stop_reason, "tool_use");
    assert.deepEqual(lastReceived(x.fake).body?.tools, [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: tools[0]!.input_schema,
          description: "Weather for a place",
        },
      },
    ]);
    assert.equal(lastReceived(x.fake).body?.tool_choice, "auto");
    assert.equal(lastReceived(x.fake).body?.parallel_tool_calls, false);

    x.fake.behaviour.toolCall = null;
    await client.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: message.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: call.id, content: "18 °C, sunny" },
            { type: "text", text: "And tomorrow?" },
          ],
        },
      ],
    });
    assert.deepEqual(lastReceived(x.fake).body?.messages, [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: call.id,
            type: "function",
            function: { name: "get_weather", arguments: JSON.stringify(weather) },
          },
        ],
      },
      { role: "tool", tool_call_id: call.id, content: "18 °C, sunny" },
      { role: "user", content: "And tomorrow?" },
    ]);
  });
}
