import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { lookupEndpoint } from "../lib/stages/endpoints.js";
import { ModelScanner } from "../lib/stages/model-scanner.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Issue 14, item 2: Ollama's Go decoder matches keys case-insensitively and keeps the last of
// several, so {"model":"llama3.2:1b","model":"llama3.1:70b"} was routed, checked and logged as
// the small model and served as the big one. A body with two top-level keys that fold to the
// same model key is refused; duplicates nested in other values are not keys of the body.

const dup = (key: string) => ({
  error: `invalid request: more than one "${key}" key (keys match regardless of case)`,
});

function keysOf(path: string): readonly string[] {
  const e = lookupEndpoint(path)?.endpoint;
  assert.ok(e !== undefined && e.kind === "routed", path);
  return e.keys;
}

function scan(body: string | Buffer, keys: readonly string[] = ["model"]) {
  const s = new ModelScanner(keys);
  s.push(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  return s.finish();
}

test("two model keys, in any case or spelling, refuse the body", () => {
  for (const body of [
    '{"model":"llama3.2:1b","model":"llama3.1:70b"}',
    '{"model":"llama3.2:1b","MODEL":"llama3.1:70b"}',
    '{"Model":"a","prompt":"hi","mOdEl":"b"}',
    String.raw`{"model":"a","\u004dODEL":"b"}`,
    '{"model":"a","model":"a"}', // the same value twice: still two keys
    '{"model":"","model":"b"}',
    '{"model":"a","stream":false,"options":{"x":1},"model":""}',
  ]) {
    assert.deepEqual(scan(body), dup("model"), body);
  }
});

test("name twice refuses the body where name selects the model, and only there", () => {
  for (const path of ["/api/show", "/api/pull", "/api/delete"]) {
    const keys = keysOf(path);
    assert.deepEqual(scan('{"name":"a","name":"b"}', keys), dup("name"), path);
    assert.deepEqual(scan('{"model":"m","name":"a","NAME":"b"}', keys), dup("name"), path);
    assert.deepEqual(scan('{"name":"a","Model":"m","model":"n"}', keys), dup("model"), path);
  }
  // On generate, name is just another field.
  assert.deepEqual(scan('{"model":"m","name":"a","name":"b"}', keysOf("/api/generate")), { model: "m" });
});

test("Go's two non-ASCII folds count too: the long s is an s", () => {
  // /api/copy routes by "source"; Go's encoding/json reads "ſource" (U+017F) as "source".
  assert.deepEqual(scan('{"source":"a","ſource":"b"}', keysOf("/api/copy")), dup("source"));
  assert.deepEqual(scan(String.raw`{"\u017fource":"a","SOURCE":"b"}`, keysOf("/api/copy")), dup("source"));
});

test("duplicates inside nested objects and arrays do not count", () => {
  for (const body of [
    '{"model":"a","options":{"model":"b","MODEL":"c"}}',
    '{"messages":[{"model":"x"},{"model":"y","Model":"z"}],"model":"a"}',
    '{"model":"a","format":{"properties":{"model":{"type":"string"},"MODEL":{}}},"tools":[["model","model"]]}',
    String.raw`{"prompt":"\"model\":\"b\"","model":"a","suffix":"\",\"model\":\"c"}`,
  ]) {
    assert.deepEqual(scan(body), { model: "a" }, body);
  }
});

test("a duplicate split across two chunks at every byte is refused", () => {
  const body = Buffer.from(
    String.raw`{"prompt":"hé \"}","model":"llama3.2:1b","x":[1,{"a":"\\"}],"stream":true,"Mod\u0065L":"llama3.1:70b"}`,
  );
  for (let at = 0; at <= body.length; at++) {
    const s = new ModelScanner(["model"]);
    s.push(body.subarray(0, at));
    s.push(body.subarray(at));
    assert.deepEqual(s.finish(), dup("model"), `split at byte ${at}`);
  }
  // And fed one byte at a time.
  const s = new ModelScanner(["model"]);
  for (let i = 0; i < body.length; i++) s.push(body.subarray(i, i + 1));
  assert.deepEqual(s.finish(), dup("model"));
});

test("the model is known at once, and a duplicate after 1 MB of other content still refuses", () => {
  const image = randomBytes(1.5 * 1024 * 1024).toString("base64"); // 2 MB as base64
  const body = Buffer.from(
    JSON.stringify({ model: "llama3.2:1b", images: [image] }).replace(/}$/, ',"MODEL":"llama3.1:70b"}'),
  );
  const s = new ModelScanner(["model"]);
  const chunk = 64 * 1024;
  assert.deepEqual(s.push(body.subarray(0, chunk)), { kind: "known", model: "llama3.2:1b" });
  assert.equal(s.model(), "llama3.2:1b");
  let at = chunk;
  for (; at + chunk < body.length; at += chunk) {
    assert.equal(s.push(body.subarray(at, at + chunk)).kind, "known", `at byte ${at}`);
  }
  assert.ok(at > 1024 * 1024);
  assert.deepEqual(s.push(body.subarray(at)), { kind: "refused", ...dup("model") });
  assert.equal(s.model(), null, "a refused body names no model");
  assert.deepEqual(s.finish(), dup("model"));
});

test("through the proxy: 400 in each dialect, nothing reaches a backend", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3.2:1b" }, { name: "llama3.1:70b" }],
  });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const body = '{"model":"llama3.2:1b","prompt":"hi","stream":false,"model":"llama3.1:70b"}';

  const ollama = await post(`${proxy.url}/api/generate`, body, proxy.auth);
  assert.equal(ollama.status, 400);
  assert.deepEqual(ollama.body, dup("model"));

  const openai = await post(
    `${proxy.url}/v1/chat/completions`,
    '{"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}],"MODEL":"llama3.1:70b"}',
    proxy.auth,
  );
  assert.equal(openai.status, 400);
  assert.deepEqual(openai.body, {
    error: { message: dup("model").error, type: "invalid_request_error", code: "bad_request" },
  });

  const show = await post(
    `${proxy.url}/api/show`,
    '{"name":"llama3.2:1b","Name":"llama3.1:70b"}',
    proxy.auth,
  );
  assert.equal(show.status, 400);
  assert.deepEqual(show.body, dup("name"));

  assert.deepEqual(backend.work(), [], "no refused body reached the backend");
  const ok = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3.2:1b", prompt: "hi", stream: false },
    proxy.auth,
  );
  assert.equal(ok.status, 200, ok.text);
});
