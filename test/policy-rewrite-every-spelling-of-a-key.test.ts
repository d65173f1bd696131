import assert from "node:assert/strict";
import { test } from "node:test";
import type { PolicyOptions } from "../lib/config/types.js";
import { rewriteBody } from "../lib/policy/rewrite.js";

// Ollama decodes bodies with Go's encoding/json: a key matches a field case-insensitively
// (with Unicode folding: the Kelvin sign is a "k", the long s an "s"), and the last spelling
// wins. A rule set on "keep_alive" alone would lose to a later "KEEP_ALIVE". Every spelling is
// folded into the one key, with Go's value, before the rule applies.

const RULES: PolicyOptions = { numCtxMax: 8192, numPredictMax: 512, keepAlive: "5m" };

function apply(path: string, text: string): { changed: boolean; out: string } {
  const body = JSON.parse(text) as unknown;
  const changed = rewriteBody(RULES, path, body);
  return { changed, out: JSON.stringify(body) };
}

test("a second keep_alive in another case cannot keep a model forever", () => {
  for (const key of ["KEEP_ALIVE", "Keep_Alive", "\u212aeep_alive", "keep_alive"]) {
    const { changed, out } = apply("/api/embed", `{"model":"m","keep_alive":"5m","${key}":-1}`);
    assert.equal(changed, true, key);
    assert.equal(out, '{"model":"m","keep_alive":"5m"}', key);
  }
  // A spelling Go does not fold to "keep_alive" is not Ollama's field: it stays.
  assert.equal(
    apply("/api/embed", '{"model":"m","keep_alive":"5m","keep-alive":-1}').out,
    '{"model":"m","keep_alive":"5m","keep-alive":-1}',
  );
});

test("options under several spellings merge as Go merges them, then are clamped", () => {
  const { out } = apply(
    "/api/chat",
    '{"model":"m","options":{"num_ctx":2048,"temperature":0.1},"OPTIONS":{"num_ctx":131072},"Options":{"top_k":5}}',
  );
  assert.equal(
    out,
    '{"model":"m","options":{"num_ctx":8192,"temperature":0.1,"top_k":5,"num_predict":512},"keep_alive":"5m"}',
  );
  // A later null empties the map, as it does in Go.
  assert.equal(
    apply("/api/chat", '{"model":"m","options":{"num_ctx":131072},"Options":null}').out,
    '{"model":"m","options":{"num_predict":512},"keep_alive":"5m"}',
  );
});

test("max_tokens under another spelling is capped too, and the last one counts", () => {
  assert.equal(
    apply("/v1/chat/completions", '{"model":"m","max_tokens":10,"MAX_TOKENS":100000}').out,
    '{"model":"m","max_tokens":512}',
  );
  assert.equal(
    apply("/v1/chat/completions", '{"model":"m","MAX_TOKENS":100000,"max_tokens":10}').out,
    '{"model":"m","max_tokens":10}',
  );
  assert.equal(
    apply("/v1/responses", '{"model":"m","max_output_tokens":5,"MAX_OUTPUT_TOKEN\u017f":9999}').out,
    '{"model":"m","max_output_tokens":512}',
  );
});

test("keys inside options are exact in Ollama, and so here", () => {
  // Ollama's Options.FromMap looks keys up as written: "NUM_CTX" is an unknown option it ignores.
  assert.equal(
    apply("/api/generate", '{"model":"m","options":{"NUM_CTX":131072,"num_predict":5},"keep_alive":"5m"}')
      .out,
    '{"model":"m","options":{"NUM_CTX":131072,"num_predict":5},"keep_alive":"5m"}',
  );
});
