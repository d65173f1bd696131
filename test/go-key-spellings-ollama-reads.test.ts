import assert from "node:assert/strict";
import { test } from "node:test";
import { goKeyMatches, goKeysFor } from "../lib/policy/go-keys.js";

// Ollama decodes request bodies with Go's encoding/json, which accepts any case-folding of a
// field's name (with Unicode folds to ASCII letters), the last key winning. Whatever decides on
// a field (a policy, the router) must look at every spelling Ollama would read.

test("the spellings Go folds onto a field, and the ones it does not", () => {
  for (const key of ["model", "MODEL", "Model", "mOdEl"]) assert.equal(goKeyMatches(key, "model"), true, key);
  assert.equal(goKeyMatches("\u212aeep_alive", "keep_alive"), true, "Kelvin sign K");
  assert.equal(goKeyMatches("max_to\u212aen\u017f", "max_tokens"), true, "Kelvin sign and long s");
  // Go's caseOrbit folds İ and ı to themselves (their folds to i are Turkic-only).
  assert.equal(goKeyMatches("\u0130d", "id"), false, "capital I with dot");
  assert.equal(goKeyMatches("\u0131d", "id"), false, "dotless i");
  for (const key of ["model ", "models", "mode", "m-odel", "keep-alive", "ｍodel", "model\u0000"])
    assert.equal(
      goKeyMatches(key, key.startsWith("keep") ? "keep_alive" : "model"),
      false,
      JSON.stringify(key),
    );
});

test("every key of a body Go would decode into a field, in body order", () => {
  const body = JSON.parse(
    '{"model":"llama3.2:1b","prompt":"hi","MODEL":"llama3.1:70b","Model":"qwen2:7b"}',
  ) as Record<string, unknown>;
  assert.deepEqual(goKeysFor(body, "model"), ["model", "MODEL", "Model"]);
  assert.deepEqual(goKeysFor(body, "keep_alive"), []);
});
