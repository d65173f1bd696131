import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelScanner } from "../lib/stages/peek.js";

// TCP may cut a body anywhere: inside a multi-byte character, an escape, a key, a number.
// Wherever the cut falls, the answer must be the one the whole body gives.

function whole(body: Buffer, keys: readonly string[]) {
  const s = new ModelScanner(keys);
  s.push(body);
  return s.result();
}

function split(body: Buffer, at: number, keys: readonly string[]) {
  const s = new ModelScanner(keys);
  // Once the answer is known the rest is not pushed, as peekBody stops feeding it.
  if (!s.push(body.subarray(0, at))) s.push(body.subarray(at));
  return s.result();
}

const BODIES: { name: string; body: string; keys: readonly string[] }[] = [
  {
    name: "a realistic chat request",
    keys: ["model"],
    body: JSON.stringify({
      messages: [
        { role: "system", content: "Tu es un assistant. Réponds en français ✓." },
        { role: "user", content: 'Quote: "{\\"model\\":\\"no\\"}" 🦙 \u2028 tab\t end' },
      ],
      options: { temperature: 0.7, num_ctx: 8192, stop: ["\n\n", "}"], model: "nested" },
      stream: true,
      keep_alive: -1,
      format: null,
      model: "qwen2.5:7b-指令",
      tools: [{ type: "function", function: { name: "f", parameters: { model: "x" } } }],
    }),
  },
  {
    name: "escaped key and value with a surrogate pair",
    keys: ["model"],
    body: String.raw`{ "n" : 1.5e-3 , "\u006dodel" : "smile-\ud83d\ude00\"x" }`,
  },
  {
    name: "show with name before model",
    keys: ["model", "name"],
    body: '{"name":"b","verbose":true,"model":"é"}',
  },
  { name: "a missing model", keys: ["model"], body: '{"prompt":"ü","stream":false}' },
  { name: "malformed JSON", keys: ["model"], body: '{"prompt":"x" "model":"y"}' },
  { name: "a model that is not a string", keys: ["model"], body: '{"prompt":"x","model":12}' },
];

for (const { name, body, keys } of BODIES) {
  test(`${name}: the same answer at every split point`, () => {
    const bytes = Buffer.from(body, "utf8");
    const want = whole(bytes, keys);
    for (let at = 0; at <= bytes.length; at++) {
      assert.deepEqual(split(bytes, at, keys), want, `split at byte ${at} of ${bytes.length}`);
    }
  });
}

test("fed one byte at a time, the answer is the same", () => {
  const bytes = Buffer.from(BODIES[0]!.body, "utf8");
  const s = new ModelScanner(["model"]);
  for (let i = 0; i < bytes.length; i++) if (s.push(bytes.subarray(i, i + 1))) break;
  assert.deepEqual(s.result(), { model: "qwen2.5:7b-指令" });
});

test("the realistic body splits to the model it names, not just to a consistent answer", () => {
  const bytes = Buffer.from(BODIES[0]!.body, "utf8");
  assert.deepEqual(whole(bytes, ["model"]), { model: "qwen2.5:7b-指令" });
});
