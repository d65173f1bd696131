import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// Issue 14, item 3: a model name with "\r\n" forged a row in `ollama-proxy usage`, and an ANSI
// sequence hid the real one. Such a name is outside Ollama's grammar: refused with 400 in the
// client's dialect, readable by fetch, with the name escaped in the message; nothing goes on.

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the test.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const FORGED = [
  "llama3\r\n2026-01-01 10:00  alice  llama3:latest  1  0",
  "\u001b[8mllama3",
  "llama3\u001b[2K\u001b[1A",
  "llama3\u0000evil",
  "llama3\u009b2K",
];

test("forged model names get 400 in each dialect and never reach a backend", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const model of FORGED) {
    const res = await fetch(`${proxy.url}/api/generate`, {
      method: "POST",
      headers: { ...proxy.auth, "content-type": "application/json" },
      body: JSON.stringify({ model, prompt: "hi", stream: false }),
    });
    assert.equal(res.status, 400, JSON.stringify(model));
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /^invalid model name "llama3|^invalid model name "\\u001b/, body.error);
    assert.ok(!CONTROL.test(body.error), `escaped: ${JSON.stringify(body.error)}`);

    const v1 = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...proxy.auth, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(v1.status, 400);
    const err = ((await v1.json()) as { error: { message: string; code: string } }).error;
    assert.equal(err.message, body.error);
    assert.equal(err.code, "bad_request");
  }
  assert.deepEqual(backend.work(), [], "no forged name reached the backend");

  const first = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: JSON.stringify({ model: FORGED[0], prompt: "hi" }),
  });
  assert.deepEqual(await first.json(), {
    error: String.raw`invalid model name "llama3\u000d\u000a2026-01-01 10:00  alice  llama3:latest  1  0": the model part may contain only letters, digits, "_", "-" and ".", not U+000D`,
  });
});
