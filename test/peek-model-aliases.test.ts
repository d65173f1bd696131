import assert from "node:assert/strict";
import { test } from "node:test";
import { lookupEndpoint } from "../lib/stages/endpoints.js";
import { ModelScanner } from "../lib/stages/model-scanner.js";

// Ollama accepts "name" for "model" on show/pull/push/delete, and /api/copy names its model "source".

function keysOf(path: string): readonly string[] {
  const e = lookupEndpoint(path)?.endpoint;
  assert.ok(e !== undefined && e.kind === "routed", path);
  return e.keys;
}

function scan(body: string, keys: readonly string[]) {
  const s = new ModelScanner(keys);
  s.push(Buffer.from(body, "utf8"));
  return s.finish();
}

test("show accepts name when model is absent", () => {
  assert.deepEqual(scan('{"name":"llama3"}', keysOf("/api/show")), { model: "llama3" });
  assert.deepEqual(scan('{"verbose":true,"name":"llama3"}', keysOf("/api/show")), { model: "llama3" });
});

test("model wins over name in either order", () => {
  const keys = keysOf("/api/show");
  assert.deepEqual(scan('{"model":"a","name":"b"}', keys), { model: "a" });
  assert.deepEqual(scan('{"name":"b","model":"a"}', keys), { model: "a" });
  assert.deepEqual(scan('{"name":"b","x":{"model":"c"},"model":"a"}', keys), { model: "a" });
});

test("pull, push, create and delete take the same alias", () => {
  for (const path of ["/api/pull", "/api/push", "/api/create", "/api/delete"]) {
    assert.deepEqual(scan('{"name":"llama3","stream":false}', keysOf(path)), { model: "llama3" }, path);
  }
});

test("generate and chat do not take name as the model", () => {
  assert.deepEqual(scan('{"name":"llama3"}', keysOf("/api/generate")), { error: "model is required" });
  assert.deepEqual(scan('{"name":"llama3"}', keysOf("/api/chat")), { error: "model is required" });
});

test("copy routes by source, not by destination", () => {
  const keys = keysOf("/api/copy");
  assert.deepEqual(scan('{"destination":"mine","source":"llama3"}', keys), { model: "llama3" });
  assert.deepEqual(scan('{"model":"x","destination":"mine"}', keys), { error: "source is required" });
});

test("an alias that is not a string is refused by its own name", () => {
  const r = scan('{"name":5}', keysOf("/api/show"));
  assert.ok("error" in r);
  assert.match(r.error, /"name" must be a string/);
});
