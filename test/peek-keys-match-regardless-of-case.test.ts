import assert from "node:assert/strict";
import { test } from "node:test";
import { goKeyMatches } from "../lib/policy/go-keys.js";
import { ModelScanner } from "../lib/stages/model-scanner.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Ollama's Go decoder reads {"MODEL":"x"} as model x: a single key in any case is the model
// key, and the request goes where that model lives.

function scan(body: string, keys: readonly string[] = ["model"]) {
  const s = new ModelScanner(keys);
  s.push(Buffer.from(body, "utf8"));
  return s.finish();
}

test("one model key in any case is the model", () => {
  for (const key of ["MODEL", "Model", "mOdEl", String.raw`\u004Dodel`]) {
    assert.deepEqual(scan(`{"prompt":"hi","${key}":"llama3"}`), { model: "llama3" }, key);
  }
  assert.deepEqual(scan('{"NAME":"llama3"}', ["model", "name"]), { model: "llama3" });
  assert.deepEqual(scan('{"ſource":"llama3","destination":"x"}', ["source"]), { model: "llama3" });
});

test("keys that only look alike are other keys", () => {
  for (const key of ["model ", "models", "modеl" /* Cyrillic e */, "mode", "MODEL\\u0000"]) {
    assert.deepEqual(scan(`{"${key}":"x","model":"llama3"}`), { model: "llama3" }, key);
  }
});

test("the scanner counts a key as a model key exactly when goKeyMatches does", () => {
  // Raw or \u-escaped, ASCII or not: the scanner's byte-wise fast path and its decoded path
  // must agree with the one module that owns Go's rule.
  const spellings = [
    "model",
    "MODEL",
    "mOdEl",
    "model ",
    "modeI",
    "mod\u0131l",
    "\u017fource",
    "\u212aey",
    "ｍodel",
  ];
  for (const key of spellings) {
    for (const written of [
      key,
      [...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
    ]) {
      for (const field of ["model", "source", "key"]) {
        const s = new ModelScanner([field]);
        s.push(Buffer.from(`{"${field}":"llama3","${written}":"other"}`));
        const dup = "error" in s.finish();
        assert.equal(dup, goKeyMatches(key, field), `${JSON.stringify(written)} as ${field}`);
      }
    }
  }
});

test("through the proxy: a body naming its model as MODEL is routed by that model", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "alpha:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "beta:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b]);

  const res = await post(
    `${proxy.url}/api/generate`,
    '{"MODEL":"beta","prompt":"hi","stream":false}',
    proxy.auth,
  );
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get("x-ollama-proxy-server"), "b");
  const v1 = await post(
    `${proxy.url}/v1/chat/completions`,
    '{"Model":"alpha","messages":[{"role":"user","content":"hi"}]}',
    proxy.auth,
  );
  assert.equal(v1.status, 200, v1.text);
  assert.equal(v1.headers.get("x-ollama-proxy-server"), "a");
});
