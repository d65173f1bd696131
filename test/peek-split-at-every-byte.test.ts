import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelScanner } from "../lib/stages/model-scanner.js";

// TCP may cut a body anywhere: inside a multi-byte character, an escape, a key, a number.
// Wherever the cut falls, the answer must be the one the whole body gives.

function whole(body: Buffer, keys: readonly string[]) {
  const s = new ModelScanner(keys);
  s.push(body);
  return s.finish();
}

function split(body: Buffer, at: number, keys: readonly string[]) {
  const s = new ModelScanner(keys);
  s.push(body.subarray(0, at));
  s.push(body.subarray(at));
  return s.finish();
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
      model: "qwen2.5:7b-instruct-q4_K_M",
      tools: [{ type: "function", function: { name: "f", parameters: { model: "x" } } }],
    }),
  },
  {
    name: "escaped key and value with a surrogate pair",
    keys: ["model"],
    body: String.raw`{ "n" : 1.5e-3 , "\u006dodel" : "smile-\ud83d\ude00\"x" }`,
  },
  {
    // Refused (Ollama's names are ASCII), with the decoded name in the message: the same at every cut.
    name: "a model name with multi-byte characters",
    keys: ["model"],
    body: '{"prompt":"日本","model":"qwen2.5:7b-指令"}',
  },
  {
    name: "show with name before model",
    keys: ["model", "name"],
    body: '{"name":"b","verbose":true,"model":"é"}',
  },
  {
    // Long strings take the scanner's native jumps: escapes on either side of every cut.
    name: "long strings with escapes, then a duplicate key",
    keys: ["model"],
    body: JSON.stringify({
      model: "llama3",
      images: [`${"QUJD".repeat(40)}\\"${"x".repeat(70)}\\\\${"y".repeat(50)}`],
      system: `${"z".repeat(60)}\t"\n${"w".repeat(60)}`,
    }).replace(/}$/, ',"Model":"other"}'),
  },
  {
    name: "a raw control character deep in a long skipped string",
    keys: ["model"],
    body: `{"model":"llama3","prompt":"${"a".repeat(100)}\u0001${"b".repeat(100)}"}`,
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
  for (let i = 0; i < bytes.length; i++) s.push(bytes.subarray(i, i + 1));
  assert.deepEqual(s.finish(), { model: "qwen2.5:7b-instruct-q4_K_M" });
});

test("the realistic body splits to the model it names, not just to a consistent answer", () => {
  const bytes = Buffer.from(BODIES[0]!.body, "utf8");
  assert.deepEqual(whole(bytes, ["model"]), { model: "qwen2.5:7b-instruct-q4_K_M" });
});

test("the long-string bodies split to the answers they should give", () => {
  const [dup, control] = BODIES.filter((b) => b.name.startsWith("long") || b.name.includes("control"));
  assert.deepEqual(whole(Buffer.from(dup!.body), ["model"]), {
    error: 'invalid request: more than one "model" key (keys match regardless of case)',
  });
  assert.deepEqual(whole(Buffer.from(control!.body), ["model"]), {
    error: "invalid JSON: control character in a string",
  });
});

test("a control character, quote or backslash is found at every position and memory alignment", () => {
  // The scanner reads strings a 32-bit word at a time from the chunk's first aligned byte:
  // move the interesting byte through a long string, and the chunk through the four alignments.
  const placed = (text: string, offset: number) => {
    const bytes = Buffer.from(text);
    const room = Buffer.alloc(bytes.length + 8);
    const at = offset + ((4 - (room.byteOffset & 3)) & 3);
    bytes.copy(room, at);
    return room.subarray(at, at + bytes.length);
  };
  const scan = (text: string, offset: number) => {
    const s = new ModelScanner(["model"]);
    s.push(placed(text, offset));
    return s.finish();
  };
  for (let p = 0; p < 160; p++) {
    for (let offset = 0; offset < 4; offset++) {
      const before = "a".repeat(p);
      const after = "b".repeat(600 - p); // over 512 bytes: the chunk is read a word at a time
      const where = `at ${p}, alignment ${offset}`;
      assert.deepEqual(
        scan(`{"prompt":"${before}\u0001${after}","model":"m"}`, offset),
        { error: "invalid JSON: control character in a string" },
        where,
      );
      assert.deepEqual(scan(`{"prompt":"${before}\\"${after}","model":"m"}`, offset), { model: "m" }, where);
      assert.deepEqual(
        scan(`{"prompt":"${before}","model":"m","x":"${after}"}`, offset),
        { model: "m" },
        where,
      );
    }
  }
});
