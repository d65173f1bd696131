import assert from "node:assert/strict";
import { test } from "node:test";
import type { GenerateResponse } from "ollama";
import { lastReceived, type ProviderKind, startExternal } from "./external-helpers.js";

// /api/generate (prompt, system, images, format) from the ollama client reaches both kinds of
// external host and comes back as Ollama's `response` chunks and done chunk.

// A 1×1 PNG: Ollama clients send images as bare base64.
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

async function generate(x: Awaited<ReturnType<typeof startExternal>>, stream: boolean, extra: object = {}) {
  const req = {
    model: x.model,
    prompt: "Describe the picture.",
    system: "Be brief.",
    images: [PNG],
    ...extra,
  };
  if (!stream) return [await x.ollama.generate({ ...req, stream: false })];
  const parts: GenerateResponse[] = [];
  for await (const p of await x.ollama.generate({ ...req, stream: true })) parts.push(p);
  return parts;
}

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  for (const stream of [true, false]) {
    test(`ollama /api/generate with an image → ${kind} host, stream: ${stream}`, async (t) => {
      const x = await startExternal(t, kind);
      const parts = await generate(x, stream);
      const answer = x.fake.answers[0]!;
      assert.equal(parts.map((p) => p.response).join(""), answer.text);
      const final = parts[parts.length - 1]!;
      assert.equal(final.done, true);
      assert.equal(final.done_reason, "stop");
      assert.equal(final.prompt_eval_count, answer.promptTokens);
      assert.equal(final.eval_count, answer.completionTokens);
      if (stream) assert.ok(parts.length > 2 && parts.slice(0, -1).every((p) => !p.done));

      const body = lastReceived(x.fake).body!;
      if (kind === "openai") {
        assert.deepEqual(body.messages, [
          { role: "system", content: "Be brief." },
          {
            role: "user",
            content: [
              { type: "text", text: "Describe the picture." },
              { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ]);
      } else {
        assert.equal(body.system, "Be brief.");
        assert.deepEqual(body.messages, [
          {
            role: "user",
            content: [
              { type: "text", text: "Describe the picture." },
              { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
            ],
          },
        ]);
      }
    });
  }

  test(`ollama format (a JSON schema) → ${kind} host gives a JSON answer`, async (t) => {
    const x = await startExternal(t, kind);
    const schema = {
      type: "object",
      properties: { answer: { type: "string" }, count: { type: "integer" } },
      required: ["answer"],
    };
    const parts = await generate(x, true, { format: schema, images: undefined });
    const text = parts.map((p) => p.response).join("");
    const body = lastReceived(x.fake).body!;
    if (kind === "openai") {
      assert.deepEqual(body.response_format, {
        type: "json_schema",
        json_schema: { name: "response", schema },
      });
      assert.equal(text, x.fake.answers[0]!.text);
    } else {
      // Claude has no response_format: the proxy forces a tool whose input schema is the format.
      const tools = body.tools as { name: string; input_schema: unknown }[];
      assert.equal(tools.length, 1);
      assert.deepEqual(tools[0]!.input_schema, schema);
      assert.deepEqual(body.tool_choice, { type: "tool", name: tools[0]!.name });
      assert.deepEqual(JSON.parse(text), x.fake.answers[0]!.toolCalls[0]!.arguments);
      assert.equal(parts[parts.length - 1]!.done_reason, "stop");
    }
  });
}

test('ollama format "json" → openai host asks for a JSON object', async (t) => {
  const x = await startExternal(t, "openai");
  await x.ollama.generate({ model: x.model, prompt: "List two colours.", format: "json", stream: false });
  assert.deepEqual(lastReceived(x.fake).body!.response_format, { type: "json_object" });
});

test("an empty /api/generate prompt loads the model without calling the provider", async (t) => {
  const x = await startExternal(t, "anthropic");
  const res = await x.ollama.generate({ model: x.model, prompt: "", stream: false });
  assert.equal(res.done, true);
  assert.equal(res.done_reason, "load");
  assert.equal(res.response, "");
  assert.equal(x.fake.received.length, 0);
});
