import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelScanner } from "../lib/stages/model-scanner.js";

// Only the top-level "model" routes a request: a chat history or tool call may carry its own.

function scan(body: string, keys: readonly string[] = ["model"]) {
  const s = new ModelScanner(keys);
  s.push(Buffer.from(body, "utf8"));
  return s.finish();
}

test("model after a large messages array is found", () => {
  const messages = Array.from({ length: 5000 }, (_, i) => ({
    role: i % 2 ? "assistant" : "user",
    content: `message ${i} with "quotes", {braces} and [brackets] ]]} {{`,
  }));
  const body = JSON.stringify({ messages, options: { temperature: 0.2 }, model: "llama3:8b" });
  assert.ok(body.length > 300_000);
  assert.deepEqual(scan(body), { model: "llama3:8b" });
});

test("the model is known at its key, and what follows is still read to the end", () => {
  const s = new ModelScanner(["model"]);
  assert.deepEqual(s.push(Buffer.from('{"model":"llama3","messages":[')), { kind: "known", model: "llama3" });
  assert.equal(s.model(), "llama3");
  assert.deepEqual(s.push(Buffer.from('{"role":"user"}]')), { kind: "known", model: "llama3" });
  assert.deepEqual(s.push(Buffer.from("}")), { kind: "complete", model: "llama3" });
  assert.deepEqual(s.finish(), { model: "llama3" });

  const cut = new ModelScanner(["model"]);
  cut.push(Buffer.from('{"model":"llama3","messages":['));
  assert.deepEqual(cut.finish(), {
    error: "invalid JSON: the request body ended before the object was complete",
  });
});

test("nested objects and arrays with their own model keys do not count", () => {
  const cases: [string, string][] = [
    ['{"options":{"model":"inner"},"model":"outer"}', "outer"],
    ['{"messages":[{"model":"inner"}],"model":"outer"}', "outer"],
    ['{"a":{"b":{"c":[{"model":"deep"}]}},"model":"outer"}', "outer"],
    ['{"tools":[[{"model":"x"}],{"model":{"model":"y"}}],"model":"outer"}', "outer"],
    ['{"format":{"properties":{"model":{"type":"string"}}},"model":"outer","x":{"model":"later"}}', "outer"],
  ];
  for (const [body, want] of cases) assert.deepEqual(scan(body), { model: want }, body);
});

test("a nested model key without a top-level one is a missing model", () => {
  const r = scan('{"options":{"model":"inner"},"messages":[{"model":"x"}]}');
  assert.deepEqual(r, { error: "model is required" });
});

test("scalars of every kind before the model are skipped", () => {
  const body = '{"a":1,"b":-2.5e+10,"c":true,"d":false,"e":null,"f":"s","g":[],"h":{},"model":"m"}';
  assert.deepEqual(scan(body), { model: "m" });
  assert.deepEqual(scan(' \r\n\t{ "stream" : false ,\n "model" :\t"m" }'), { model: "m" });
});
