import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelScanner } from "../lib/stages/model-scanner.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Ollama's show (and pull, delete) take cmp.Or(req.Model, req.Name): an empty "model" does
// not count, and "name" decides. Without either, the answer stays 400 "model is required".

const SHOW = ["model", "name"];

function scan(body: string) {
  const s = new ModelScanner(SHOW);
  s.push(Buffer.from(body, "utf8"));
  return s.finish();
}

test("an empty model gives way to name, in either order", () => {
  assert.deepEqual(scan('{"model":"","name":"llama3"}'), { model: "llama3" });
  assert.deepEqual(scan('{"name":"llama3","model":""}'), { model: "llama3" });
  assert.deepEqual(scan('{"model":"","verbose":true,"name":"llama3"}'), { model: "llama3" });
});

test("without a non-empty model or name: model is required", () => {
  assert.deepEqual(scan('{"model":""}'), { error: "model is required" });
  assert.deepEqual(scan('{"model":"","name":""}'), { error: "model is required" });
  assert.deepEqual(scan("{}"), { error: "model is required" });
  // White space is a value to Go (so name is not used), and trims to nothing: no model.
  assert.deepEqual(scan('{"model":"  ","name":"llama3"}'), { error: "model is required" });
});

test("known as soon as name is read after an empty model", () => {
  const s = new ModelScanner(SHOW);
  assert.deepEqual(s.push(Buffer.from('{"model":"",')), { kind: "reading" });
  assert.deepEqual(s.push(Buffer.from('"name":"llama3",')), { kind: "known", model: "llama3" });
  assert.deepEqual(s.push(Buffer.from('"verbose":true}')), { kind: "complete", model: "llama3" });
});

test("through the proxy: show with an empty model and a name is served, an empty model alone is 400", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const ok = await post(`${proxy.url}/api/show`, { model: "", name: "llama3" }, proxy.auth);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get("x-ollama-proxy-server"), "gpu1");

  const refused = await post(`${proxy.url}/api/show`, { model: "" }, proxy.auth);
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.body, { error: "model is required" });
});
